// Golden files: output a person reviewed, kept beside the test in __golden__/. A missing golden
// fails (it is reviewed like code, never created silently); UPDATE_GOLDEN=1 rewrites it, and the
// diff is reviewed before it is committed.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Expects `text` to equal `<testDir>/__golden__/<name>` byte for byte. */
export function expectGolden(testDir: string, name: string, text: string): void {
  const golden = join(testDir, "__golden__", name);
  if (process.env.UPDATE_GOLDEN === "1") {
    mkdirSync(dirname(golden), { recursive: true });
    writeFileSync(golden, text);
  }
  if (!existsSync(golden)) throw new Error(`${golden} is missing; run with UPDATE_GOLDEN=1 once, then review it`);
  expect(text).toBe(readFileSync(golden, "utf8"));
}

// `npm run render -- --out DIR` removes only a directory it wrote itself (its marker file), and
// puts a complete render in place of the previous one. The old render began with
// rmSync(DIR, {recursive: true}): `--out .` deleted a checkout with its .git, and `--out hosts`
// (which `npm run check -- hosts` suggested) every capture and lock.
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { RENDER_MARKER, finishRender, renderTarget, startRender } from "../../cli/render-dir";

const root = resolve(__dirname, "../..");
const tsx = join(root, "node_modules/.bin/tsx");
const USER_FILE = "notes.md";
const USER_TEXT = "my notes: kept in the checkout, never rendered\n";

/** A checkout of the project with a .git directory and a file of the user's. */
function checkout(): string {
  const dir = mkdtempSync(join(tmpdir(), "render-out-"));
  copyFileSync(join(root, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  copyFileSync(join(root, "Pulumi.single.yaml"), join(dir, "Pulumi.single.yaml"));
  cpSync(join(root, "hosts"), join(dir, "hosts"), { recursive: true });
  mkdirSync(join(dir, ".git", "objects"), { recursive: true });
  writeFileSync(join(dir, ".git", "HEAD"), "ref: refs/heads/main\n");
  writeFileSync(join(dir, USER_FILE), USER_TEXT);
  return dir;
}

function cli(dir: string, command: string, ...args: string[]) {
  const r = spawnSync(tsx, [join(root, "cli", `${command}.ts`), ...args], { cwd: dir, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const snapshot = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(dir.length))
    .sort();

describe("npm run render -- --out DIR never removes what it did not write", () => {
  it.each([
    [".", "the checkout itself, with its .git"],
    ["hosts", "the captures and locks"],
    ["notes", "a directory of the user's"],
  ])("--out %s (%s): refused in one line, exit 2, nothing touched", (out) => {
    const dir = checkout();
    mkdirSync(join(dir, "notes"));
    writeFileSync(join(dir, "notes", USER_FILE), USER_TEXT);
    const before = snapshot(dir);
    const r = cli(dir, "render", "--stack", "single", "--out", out);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^--out ${out.replace(".", "\\.")}: (holds the project itself|holds files npm run render did not write)`));
    expect(snapshot(dir)).toEqual(before);
    expect(readFileSync(join(dir, USER_FILE), "utf8")).toBe(USER_TEXT);
    expect(existsSync(join(dir, ".git", "HEAD"))).toBe(true);
  });

  it("replaces its own earlier render (marker: the stack) and leaves nothing of it behind", () => {
    const dir = checkout();
    expect(cli(dir, "render", "--stack", "single").code).toBe(0);
    const out = join(dir, "out", "single");
    expect(readFileSync(join(out, RENDER_MARKER), "utf8")).toBe("single\n");
    writeFileSync(join(out, "stale.txt"), "from an older render\n");
    const again = cli(dir, "render", "--stack", "single");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`wrote ${out}:`);
    expect(existsSync(join(out, "stale.txt"))).toBe(false);
    expect(existsSync(join(out, "plan.json"))).toBe(true);
    // Only the render, nothing half-written or previous beside it.
    expect(readdirSync(join(dir, "out"))).toEqual(["single"]);
  });

  it("an interrupted render leaves the previous one whole, and its leftover is removed by the next", () => {
    const dir = checkout();
    const target = join(dir, "out", "single");
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, RENDER_MARKER), "single\n");
    writeFileSync(join(target, "plan.json"), "{}\n");
    const fresh = startRender(target, "single");
    writeFileSync(join(fresh, "plan.json"), "half");
    // ... killed here: finishRender never ran.
    expect(readFileSync(join(target, "plan.json"), "utf8")).toBe("{}\n");
    const next = startRender(target, "single");
    expect(existsSync(fresh)).toBe(false);
    writeFileSync(join(next, "plan.json"), "whole\n");
    finishRender(next, target, "out/single", "single", dir);
    expect(readFileSync(join(target, "plan.json"), "utf8")).toBe("whole\n");
    expect(readdirSync(join(dir, "out"))).toEqual(["single"]);
  });

  it("an empty or absent directory is written; a file or a symbolic link is refused", () => {
    const dir = checkout();
    mkdirSync(join(dir, "empty"));
    expect(renderTarget(join(dir, "empty"), "empty", "single", dir)).toBe("empty");
    expect(renderTarget(join(dir, "new"), "new", "single", dir)).toBe("absent");
    expect(() => renderTarget(join(dir, USER_FILE), USER_FILE, "single", dir)).toThrow(/is a file, not a directory/);
    symlinkSync(join(dir, "hosts"), join(dir, "link"));
    expect(() => renderTarget(join(dir, "link"), "link", "single", dir)).toThrow(/is a symbolic link/);
  });

  it("npm run check on a directory that is not a render suggests out/NAME, not that directory", () => {
    const dir = checkout();
    const r = cli(dir, "check", "hosts");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a render .*npm run render -- --stack NAME \(it writes out\/NAME\), then npm run check -- out\/NAME/);
    expect(r.stderr).not.toContain("--out");
  });
});

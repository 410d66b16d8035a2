// The real tools a test drives, and what happens when one is missing: with CI=true the test fails
// with the Debian package to install (CI must run everything); elsewhere it skips with that line.
import { spawnSync } from "node:child_process";

/** A tool (a command on PATH, or an absolute path) and the Debian package that provides it. */
export type Tool = [command: string, debianPackage: string];

export function hasCommand(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v "$1" >/dev/null`, "sh", command]).status === 0;
}

/** true when every tool is there; otherwise throws under CI, or prints one line and returns false. */
export function requireTools(testFile: string, tools: Tool[]): boolean {
  const missing = tools.filter(([command]) => !hasCommand(command));
  if (missing.length === 0) return true;
  const line = `${testFile}: missing ${missing.map(([c, p]) => `${c} (apt-get install ${p})`).join(", ")}`;
  if (process.env.CI === "true") throw new Error(`${line}; CI runs every test, so .ci/run must install it`);
  console.log(`${line}: skipped`);
  return false;
}

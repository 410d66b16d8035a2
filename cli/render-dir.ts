// Where `npm run render` writes, and the only directory it ever removes: one it wrote itself. A
// render goes to a new directory beside the target and takes the target's place once complete, so
// an interrupted render leaves the previous one whole. The target is replaced only when it holds
// this command's marker (or nothing at all): `--out .` once deleted a whole checkout with its .git,
// and `--out hosts` every capture and lock.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { InputError } from "../common/user-error";

/** The file in every render directory that says `npm run render` wrote it (it holds the stack). */
export const RENDER_MARKER = ".numa-k3s-render";

type Target = "absent" | "empty" | "render";

/** What `out` is, or a one-line refusal when replacing it could lose anything render did not write. */
export function renderTarget(out: string, given: string, stack: string, projectDir: string): Target {
  const rel = relative(out, resolve(projectDir));
  if (rel === "" || !rel.startsWith("..")) throw new InputError(`--out ${given}: holds the project itself; name a directory of its own, e.g. out/${stack}`);
  if (!existsSync(out) && !isSymlink(out)) return "absent";
  if (isSymlink(out)) throw new InputError(`--out ${given}: is a symbolic link; name the directory itself, or a new one, e.g. out/${stack}`);
  if (!lstatSync(out).isDirectory()) throw new InputError(`--out ${given}: is a file, not a directory; name a new or empty directory, e.g. out/${stack}`);
  const entries = readdirSync(out);
  if (entries.length === 0) return "empty";
  if (entries.includes(RENDER_MARKER) && lstatSync(join(out, RENDER_MARKER)).isFile()) return "render";
  throw new InputError(
    `--out ${given}: holds files npm run render did not write (no ${RENDER_MARKER} in it): refusing to replace it; name a new or empty directory, e.g. out/${stack} (an older render without the marker: remove it yourself)`,
  );
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Half-written renders beside `target` (an interrupted run's): ours by their marker. */
function leftovers(target: string): string[] {
  const prefix = `.${basename(target)}.rendering-`;
  const parent = dirname(target);
  if (!existsSync(parent)) return [];
  return readdirSync(parent)
    .filter((f) => f.startsWith(prefix))
    .map((f) => join(parent, f))
    .filter((d) => !isSymlink(d) && existsSync(join(d, RENDER_MARKER)));
}

/** A new directory beside `target`, holding the marker: the render is written there. Leftovers of
 * an interrupted render (marked, so written by this command) are removed first. */
export function startRender(target: string, stack: string): string {
  for (const old of leftovers(target)) rmSync(old, { recursive: true, force: true });
  mkdirSync(dirname(target), { recursive: true });
  const fresh = mkdtempSync(join(dirname(target), `.${basename(target)}.rendering-`));
  writeFileSync(join(fresh, RENDER_MARKER), `${stack}\n`);
  return fresh;
}

/**
 * Puts the complete render `fresh` in `target`'s place. The previous render is checked again just
 * before, and removed only once the new one is there; until then an interrupted run leaves it whole.
 */
export function finishRender(fresh: string, target: string, given: string, stack: string, projectDir: string): void {
  let kind: Target;
  try {
    kind = renderTarget(target, given, stack, projectDir);
  } catch (e) {
    rmSync(fresh, { recursive: true, force: true });
    throw e;
  }
  if (kind === "absent") {
    renameSync(fresh, target);
    return;
  }
  // Named like a leftover, so that a run killed between the two renames has it removed next time.
  const previous = `${fresh}-previous`;
  renameSync(target, previous);
  renameSync(fresh, target);
  // An empty directory goes with rmdir, which fails rather than remove anything that arrived since.
  if (kind === "empty") rmdirSync(previous);
  else rmSync(previous, { recursive: true, force: true });
}

// The pack runs the project's own topology/, k3s/ and stacks/ code by relative path (../topology/...),
// and those files import zod, yaml and fast-xml-parser by name. Node looks for them beside those
// files first (the project's node_modules, when the project is installed); this adds the pack's
// own node_modules after that, so that `npm ci` in policy/ alone is enough to run the pack.
// (policy/tsconfig.json's `paths` does the same for the type checker.)
import { join } from "node:path";
import Module from "node:module";

const own = join(__dirname, "node_modules");
const paths = (process.env.NODE_PATH ?? "").split(require("node:path").delimiter).filter((p: string) => p !== "");
if (!paths.includes(own)) {
  process.env.NODE_PATH = [...paths, own].join(require("node:path").delimiter);
  // Node reads NODE_PATH once at start; _initPaths reads it again (documented in Node's modules docs
  // as the way to change the global folders at run time).
  (Module as unknown as { _initPaths(): void })._initPaths();
}

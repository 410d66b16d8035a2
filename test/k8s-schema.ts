// Validates rendered Kubernetes objects against the API's OpenAPI schemas (kubernetes-models
// 5.1.0). The package is ESM-only and jest loads CommonJS, so the objects go to a real Node
// process that imports the model of each apiVersion/kind and runs its validate(): one process per
// batch, errors back as JSON.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

/** A Kubernetes object as rendered (plain JSON: secrets already unwrapped or redacted). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string };
  [key: string]: unknown;
}

const VALIDATOR = `
const objects = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
const results = [];
for (const object of objects) {
  const where = object.kind + "/" + (object.metadata && object.metadata.name);
  try {
    const mod = await import("kubernetes-models/" + object.apiVersion + "/" + object.kind);
    const Model = mod[object.kind] || mod.default;
    if (typeof Model !== "function") { results.push(where + ": kubernetes-models has no " + object.apiVersion + " " + object.kind); continue; }
    new Model(object).validate();
  } catch (error) {
    results.push(where + ": " + String(error && error.message || error).split("\\n").slice(0, 6).join(" "));
  }
}
process.stdout.write(JSON.stringify(results));
`;

/**
 * One line per object that does not validate (empty when all do): kind/name and the schema's
 * complaint. An apiVersion/kind the package does not know is an error too.
 */
export function schemaErrors(objects: K8sObject[]): string[] {
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", `import { createRequire } from "node:module"; const require = createRequire(import.meta.url);${VALIDATOR}`], {
    input: JSON.stringify(objects),
    cwd: join(__dirname, ".."),
    encoding: "utf8",
  });
  return JSON.parse(out) as string[];
}

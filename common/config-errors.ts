// How every input a user wrote is refused: one line, `FILE: KEY = VALUE: why`, the same shape for
// a stack file, a request file, a lock and the `numa-k3s:slm` section. A misspelt key is said first
// (it is the likeliest cause of every other complaint) with the nearest key the schema knows; a
// value is shown as the user wrote it, never a private key or a page of text.
import { z } from "zod";
import { redact } from "./redact";

/** Where a checked value sits: the file, and the prefix its keys are written with. */
export interface InputSource {
  /** The file as the user named it: `Pulumi.single.yaml`, `my-hosts.yaml`, `hosts/single.lock.json`;
   * "" where the caller puts the file in front itself. */
  file: string;
  /** `numa-k3s:` for a stack's config (keys then read `numa-k3s:vms[2].cores`), `numa-k3s:slm`
   * for a section (`numa-k3s:slm.models[0].cores`), "" for a file of its own (`vms[2].cores`). */
  prefix: string;
}

/** `vms[2].cores` from a zod path, written after `prefix` the way a user writes the key. */
export function keyOf(prefix: string, path: readonly PropertyKey[]): string {
  const rest = path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 && (prefix === "" || prefix.endsWith(":")) ? String(p) : `.${String(p)}`)).join("");
  return `${prefix}${rest}` || "(top level)";
}

export function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const p of path) v = v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** A value as a message may print it: as written (`.inf` is not `null`), never a private key,
 * never more than a line. */
export function shownValue(value: unknown): string {
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  const text = redact(JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 60)}...` : text;
}

export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The nearest of `known` to `word` (at most two edits, case ignored), or undefined. */
export function nearest(word: string, known: Iterable<string>): string | undefined {
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d <= 2 && (!best || d < best.d || (d === best.d && k.localeCompare(best.k) < 0))) best = { k, d };
  }
  return best?.k;
}

type Def = { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; element?: z.ZodType; options?: z.ZodType[]; in?: z.ZodType; out?: z.ZodType; valueType?: z.ZodType; left?: z.ZodType; right?: z.ZodType };
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The schemas a value at `path` is checked by (a union has several), through optional, default,
 * arrays, records and pipes. */
function schemasAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType[] {
  const def = defOf(schema);
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "catch":
      return schemasAt(def.innerType!, path);
    case "pipe":
      return [...schemasAt(def.in!, path), ...schemasAt(def.out!, path)];
    case "union":
      return def.options!.flatMap((o) => schemasAt(o, path));
    case "intersection":
      return [...schemasAt(def.left!, path), ...schemasAt(def.right!, path)];
  }
  if (path.length === 0) return [schema];
  const [head, ...rest] = path;
  if (def.type === "object" && typeof head === "string" && def.shape![head]) return schemasAt(def.shape![head], rest);
  if (def.type === "array" && typeof head === "number") return schemasAt(def.element!, rest);
  if (def.type === "record") return schemasAt(def.valueType!, rest);
  return [];
}

/** Every key an object at `path` may have, by the schema. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  return [...new Set(schemasAt(schema, path).flatMap((s) => (defOf(s).type === "object" ? Object.keys(defOf(s).shape!) : [])))];
}

// Words from other tools for what this project calls a core, memory or node (the vocabulary of docs/architecture.md).
const SYNONYMS: Record<string, string> = { cpus: "cores", vcpus: "cores", vcpu: "cores", memory: "memoryGiB", ram: "memoryGiB", cell: "node", numanode: "node", socket: "node", quantization: "quantisation" };

/** `unknown key; did you mean X?` for `key`, where `known` are the keys the object may have. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const synonym = SYNONYMS[key.toLowerCase()];
  if (synonym && known.includes(synonym)) return `unknown key; did you mean ${synonym}?`;
  const near = nearest(key, known);
  const some = known.length > 0 && known.length <= 8 ? ` (keys here: ${known.join(", ")})` : "";
  return near ? `unknown key; did you mean ${near}?` : `unknown key${some}`;
}

/** The first problem of `error` as `FILE: KEY = VALUE: why`, and how many more there are. */
export function problemLine(source: InputSource, raw: unknown, error: z.ZodError, schema: z.ZodType): string {
  const at = source.file ? `${source.file}: ` : "";
  const issues = [...error.issues].sort((a, b) => Number(b.code === "unrecognized_keys") - Number(a.code === "unrecognized_keys"));
  const [first, ...rest] = issues;
  const more = rest.length > 0 ? ` (and ${rest.length} more problem${rest.length > 1 ? "s" : ""})` : "";
  if (first.code === "unrecognized_keys") {
    const key = first.keys[0];
    return `${at}${keyOf(source.prefix, [...first.path, key])}: ${unknownKeyMessage(key, keysAt(schema, first.path))}${more}`;
  }
  const value = valueAt(raw, first.path);
  if (value === undefined && isMissing(raw, first.path)) return `${at}${keyOf(source.prefix, first.path)}: is missing: it ${first.message.replace(/^must/, "must be set and")}${more}`;
  const shown = value === undefined ? "" : ` = ${shownValue(value)}`;
  return `${at}${keyOf(source.prefix, first.path)}${shown}: ${first.message}${more}`;
}

/** The key at `path` is not written at all (its parent is an object without it). */
function isMissing(raw: unknown, path: readonly PropertyKey[]): boolean {
  if (path.length === 0) return false;
  const parent = valueAt(raw, path.slice(0, -1));
  return parent !== null && typeof parent === "object" && !Array.isArray(parent) && !(path[path.length - 1] in parent);
}

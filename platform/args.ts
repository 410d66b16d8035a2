// The components' plain args, checked where a user typed them: zod schemas (strict: an unknown
// key is a typo, not an option) and one-line errors that name the component, the field and why.
import { createHash } from "node:crypto";
import { z } from "zod";
import { InputError } from "../common/user-error";

/** `value` parsed by `schema`, or a InputError: `<Component> '<name>': <path> = <value>: <why>`. */
export function parseArgs<S extends z.ZodType>(component: string, name: string, schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.code === "unrecognized_keys") {
    // A typo: name the key where it was typed, not the whole object around it.
    const at = issue.path.length ? `${issue.path.join(".")}.` : "";
    throw new InputError(`${component} '${name}': ${issue.keys.map((k) => `${at}${k}`).join(", ")}: unknown key${issue.keys.length > 1 ? "s" : ""}`);
  }
  const path = issue.path.join(".") || "(args)";
  const found = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k as PropertyKey], value);
  const shown = found === undefined ? "undefined" : JSON.stringify(found);
  throw new InputError(`${component} '${name}': ${path} = ${shown}: ${issue.message}`);
}

/** A Kubernetes resource quantity (`500m`, `2`, `1Gi`, `512Mi`). */
export const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/;

/** The first 10 hex digits of sha256(text): names that change exactly when `text` does. */
export function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 10);
}

/** Node selector + tolerations, as the components take them (platform/placement.ts makes them). */
export const PodPlacementSchema = z
  .object({
    nodeSelector: z.record(z.string().min(1), z.string()),
    tolerations: z.array(
      z
        .object({
          key: z.string().optional(),
          operator: z.enum(["Exists", "Equal"]).optional(),
          value: z.string().optional(),
          effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
          tolerationSeconds: z.number().int().optional(),
        })
        .strict(),
    ),
  })
  .strict();

export const ResourcesSchema = z
  .object({
    requests: z.object({ cpu: z.string().regex(QUANTITY).optional(), memory: z.string().regex(QUANTITY).optional() }).strict().optional(),
    limits: z.object({ cpu: z.string().regex(QUANTITY).optional(), memory: z.string().regex(QUANTITY).optional() }).strict().optional(),
  })
  .strict();

/** A NodePort in Kubernetes' default range. */
export const NodePortSchema = z.number().int().min(30000).max(32767);

/** Bytes of a memory quantity, millicores of a CPU quantity: what the fit checks sum. */
export function parseQuantity(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/.exec(q);
  if (!m) throw new InputError(`not a Kubernetes quantity: ${JSON.stringify(q)}`);
  const n = Number(m[1]);
  const unit = m[2] ?? "";
  const factor: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, Ki: 1024, M: 1e6, Mi: 1024 ** 2, G: 1e9, Gi: 1024 ** 3, T: 1e12, Ti: 1024 ** 4 };
  return n * factor[unit];
}

/** The same one-line error for a rule across fields (zod checks one field at a time). */
export function argsError(component: string, name: string, path: string, value: unknown, why: string): never {
  throw new InputError(`${component} '${name}': ${path} = ${JSON.stringify(value)}: ${why}`);
}

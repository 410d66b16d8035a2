// The resources of a preview, as the pack is handed them, turned into the rules' Inputs. Pure and
// free of @pulumi/policy: it reads only `type`, `name` and `props`, so the root tests can feed it
// fabricated resources.
//
// Secrets: the pack's runtime (policy/secret-aware.ts) keeps each secret value as a Secret
// instance (`{ value }`, class name "Secret") instead of unwrapping it. Here a secret is read in
// full where a rule needs its content (the kubelet configuration inside the K3s install's secret
// stdin) and as "[secret]" everywhere a rule judges what is in the clear.
// Unknowns: in a preview a property computed from another resource is unknown, and reading it
// throws. Only the properties a rule needs are read, each on its own, and an unknown one is
// treated as absent, so that one unknown field does not stop every rule.
import YAML from "yaml";
import { CommandInput, Inputs, ObjectInput, SECRET, emptyInputs } from "./model";
import { payloadFiles } from "../../common/remote-script";

export interface ResourceLike {
  type: string;
  name: string;
  props: Record<string, unknown>;
}

export function isSecretValue(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as object).constructor?.name === "Secret" && "value" in (v as object);
}

/** props[key], or undefined when it is unknown in this preview. */
function read(props: unknown, key: string): unknown {
  try {
    return (props as Record<string, unknown>)[key];
  } catch (e) {
    // @pulumi/policy's UnknownValueError: "<type> value at .<path> can't be known during preview".
    if ((e as Error).constructor?.name === "UnknownValueError" || /can't be known during preview/.test((e as Error).message)) return undefined;
    throw e;
  }
}

/** The value with every secret unwrapped (for content a rule needs). */
export function revealed(v: unknown): unknown {
  if (isSecretValue(v)) return revealed(v.value);
  if (Array.isArray(v)) return v.map(revealed);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).map((k) => [k, revealed(read(v, k))]));
  return v;
}

/** The value with every secret replaced by "[secret]" (what a render would print). */
export function redacted(v: unknown): unknown {
  if (isSecretValue(v)) return SECRET;
  if (Array.isArray(v)) return v.map(redacted);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).map((k) => [k, redacted(read(v, k))]));
  return v;
}


const COMMAND_TYPES = new Set(["command:remote:Command", "command:local:Command"]);
const COMMAND_FIELDS = ["create", "update", "delete", "environment", "triggers", "stdin"];

export function inputsOfResources(resources: readonly ResourceLike[]): Inputs {
  const inputs = emptyInputs();
  for (const r of resources) {
    if (COMMAND_TYPES.has(r.type)) {
      const stdin = revealed(read(r.props, "stdin"));
      if (typeof stdin === "string" && r.name.endsWith("-domain") && stdin.includes("<domain")) inputs.domains.push({ resource: r.name, xml: stdin });
      if (typeof stdin === "string") {
        const files = payloadFiles(stdin);
        if (files["config.yaml"] !== undefined) {
          const config = (YAML.parse(files["config.yaml"]) ?? {}) as Record<string, unknown>;
          const node = typeof config["node-name"] === "string" ? config["node-name"] : r.name.replace(/-k3s$/, "");
          const labels = Array.isArray(config["node-label"]) ? config["node-label"].map(String) : [];
          inputs.kubelets.push({ resource: r.name, node, role: "server" in config ? "agent" : "server", yaml: files["kubelet.yaml"] ?? null, labels });
        }
      }
      const c: CommandInput = { resource: r.name, fields: {} };
      for (const f of COMMAND_FIELDS) {
        const v = redacted(read(r.props, f));
        if (v !== undefined) c.fields[f] = v;
      }
      // A stdin in the clear is judged file by file, as the script on the other end reads it.
      if (typeof c.fields.stdin === "string") for (const [file, text] of Object.entries(payloadFiles(c.fields.stdin))) c.fields[`stdin ${file}`] = text;
      inputs.commands.push(c);
    } else if (r.type.startsWith("kubernetes:")) {
      const o: ObjectInput = { resource: r.name, type: r.type, props: redacted(r.props) as Record<string, unknown> };
      inputs.objects.push(o);
    }
  }
  return inputs;
}

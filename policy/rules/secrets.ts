// secrets-stay-secret: a token, password or key never appears in the clear, in any quoting, where
// it would land in the state file, a diff, a log or a render: a command's text, environment,
// triggers or (when not a Pulumi secret) stdin; a container's command, args or env; a ConfigMap; an
// annotation; a Helm release's values. Secret objects, and references to them (secretKeyRef,
// secretRef, existingSecret), are where secrets belong and are never flagged.
import { CommandInput, Finding, ObjectInput, SECRET } from "./model";
import { podsOf } from "./pods";

/** Secret material by its shape, whatever it is called. */
const MATERIAL: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
  [/client-key-data:\s*[A-Za-z0-9+/=]{16,}/, "a kubeconfig's client key"],
  // K3s's secure token: K10<sha256 of the cluster CA>::<user>:<password> (docs.k3s.io, "Token").
  [/\bK10[0-9a-f]{64}::[A-Za-z0-9._-]+:[A-Za-z0-9._-]{6,}/, "a K3s token"],
  // The K3s install's stdin payload line of the token file (k3s/scripts.ts).
  [/^cluster-token [A-Za-z0-9+/=]{8,}$/m, "the K3s token"],
  [/\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@'"$]+:[^\s@'"${}]{3,}@/i, "a password inside a URL"],
];

/** A name that says its value is a credential (at its end, any case, any separator). */
const CREDENTIAL_NAME = /(token|password|passwd|passphrase|secret|secret[_.-]?key|access[_.-]?key|private[_.-]?key|api[_.-]?key|credentials?)$/i;
/** Names ending like a credential that name where one is kept instead (existingSecret). */
const REFERENCE_NAME = /^existing/i;

/**
 * K3s's own credential flags and variables, read in k3s-io/k3s pkg/cli/cmds/server.go and agent.go
 * (the flags listed for the pinned release in test/fixtures/k3s/k3s-flags.json; a test checks each
 * flag is there): `--token`/`-t` (K3S_TOKEN), `--agent-token` (K3S_AGENT_TOKEN), `--vpn-auth`
 * (K3S_VPN_AUTH), `--etcd-s3-access-key`, `--etcd-s3-secret-key`, the deprecated `--cluster-secret`
 * (K3S_CLUSTER_SECRET). Those CREDENTIAL_NAME does not recognise by their ending:
 */
export const K3S_CREDENTIAL_FLAGS = ["token", "t", "agent-token", "vpn-auth", "etcd-s3-access-key", "etcd-s3-secret-key"];
const K3S_CREDENTIAL_EXTRA = /^(vpn-auth|K3S_VPN_AUTH)$/;

export function isCredentialName(name: string): boolean {
  return (CREDENTIAL_NAME.test(name) || K3S_CREDENTIAL_EXTRA.test(name)) && !REFERENCE_NAME.test(name);
}

/** A value that holds nothing secret of its own: empty, redacted, a reference to a variable or a
 * command's output, or a YAML/JSON scalar keyword. */
function isLiteral(value: string, quote: string): boolean {
  const v = value.trim();
  if (v === "" || v === SECRET || v === "<redacted>") return false;
  if (quote !== "'" && v.startsWith("$")) return false;
  return !(quote === "" && /^(null|~|true|false|yes|no)$/i.test(v));
}

/** The value at `text[i]`: $'...', '...', "..." or a bare word, and how it is quoted. */
function valueAt(text: string, i: number): { value: string; quote: string } {
  if (text.startsWith(SECRET, i)) return { value: SECRET, quote: "" };
  const ansi = text.startsWith("$'", i);
  const q = ansi ? "'" : text[i];
  if (q === "'" || q === '"') {
    let j = i + (ansi ? 2 : 1);
    const start = j;
    while (j < text.length && text[j] !== q) j += text[j] === "\\" && q === '"' ? 2 : 1;
    return { value: text.slice(start, j), quote: q };
  }
  return { value: /^[^\s'",;}\]|&)]*/.exec(text.slice(i))![0], quote: "" };
}

/**
 * What in `text` is a credential in the clear: secret material by shape, `NAME=VALUE` (shell,
 * env files, INI), `NAME: VALUE` (YAML), `"NAME": "VALUE"` (JSON), `--NAME VALUE` / `--NAME=VALUE`
 * and `k3s ... -t VALUE`, where NAME is a credential's name and VALUE a literal in any quoting.
 * Returns a few words saying what, or null.
 */
export function credentialIn(text: string): string | null {
  for (const [re, what] of MATERIAL) if (re.test(text)) return what;
  // NAME=, NAME: (YAML: a space after the colon), "NAME": (JSON); $NAME and ${NAME} are uses.
  for (const m of text.matchAll(/(?<![$\w./-])(?:"([A-Za-z_][\w.-]*)"|'([A-Za-z_][\w.-]*)'|([A-Za-z_][\w.-]*))[ \t]*(=|:)([ \t]*)/g)) {
    const name = m[1] ?? m[2] ?? m[3];
    if (m[3] !== undefined && (text[m.index! - 1] === "{" || (m[4] === ":" && m[5] === ""))) continue;
    if (!isCredentialName(name)) continue;
    const { value, quote } = valueAt(text, m.index! + m[0].length);
    if (isLiteral(value, quote)) return `${name} set to a literal value`;
  }
  // --NAME VALUE, --NAME=VALUE; and K3s's -t after `k3s`.
  for (const m of text.matchAll(/(?<=^|[\s;&|(])--([A-Za-z][\w-]*)(=|[ \t]+)/g)) {
    if (!isCredentialName(m[1]) && !K3S_CREDENTIAL_FLAGS.includes(m[1])) continue;
    const { value, quote } = valueAt(text, m.index! + m[0].length);
    if (!value.startsWith("-") && isLiteral(value, quote)) return `--${m[1]} given a literal value`;
  }
  for (const m of text.matchAll(/\bk3s\b[^\n]*?[ \t]-t(=|[ \t]+)/g)) {
    const { value, quote } = valueAt(text, m.index! + m[0].length);
    if (!value.startsWith("-") && isLiteral(value, quote)) return "k3s -t (the token) given a literal value";
  }
  return null;
}

/** A value that, alone, has the shape of an S3 secret key (40 characters of mixed case, digits,
 * / and +: what AWS, MinIO and SeaweedFS generate). */
function looksLikeS3SecretKey(value: string): boolean {
  const v = value.trim();
  return /^[A-Za-z0-9/+]{40}$/.test(v) && /[a-z]/.test(v) && /[A-Z]/.test(v) && /[0-9]/.test(v);
}

/** Every string inside `v` with its dotted path. */
function strings(v: unknown, path: string, visit: (path: string, key: string, value: string, siblings: Record<string, unknown>) => void): void {
  if (Array.isArray(v)) v.forEach((x, i) => strings(x, `${path}[${i}]`, visit));
  else if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === "string") visit(path ? `${path}.${k}` : k, k, x, v as Record<string, unknown>);
      else strings(x, path ? `${path}.${k}` : k, visit);
    }
}

/** Keys beside which a credential-named value is the name of a key in that Secret (Temporal's
 * sql.existingSecret + secretKey), not a credential. */
const SECRET_REFERENCE = /^existingSecret(Name)?$/i;

function annotationsOf(o: ObjectInput): [string, Record<string, unknown>][] {
  const p = o.props as Record<string, any>;
  const out: [string, Record<string, unknown>][] = [];
  if (p.metadata?.annotations) out.push(["metadata.annotations", p.metadata.annotations]);
  for (const pod of podsOf(o)) if (pod.annotations && pod.path !== "") out.push([`${pod.path}.metadata.annotations`, pod.annotations]);
  return out;
}

export function checkSecrets(commands: readonly CommandInput[], objects: readonly ObjectInput[]): Finding[] {
  const out: Finding[] = [];
  const f = (resource: string, message: string) => out.push({ rule: "secrets-stay-secret", resource, message: `${resource}: ${message}` });
  for (const c of commands)
    for (const [field, value] of Object.entries(c.fields)) {
      if (value === undefined || value === SECRET) continue;
      const what = credentialIn(typeof value === "string" ? value : JSON.stringify(value));
      if (what) f(c.resource, `${field} carries ${what} in the clear (command text shows in diffs and logs; send it as a secret on stdin)`);
    }
  for (const o of objects) {
    if (/:Secret$/.test(o.type)) continue;
    if (/:ConfigMap$/.test(o.type)) {
      const data = Object.entries((o.props.data ?? {}) as Record<string, unknown>);
      const binary = Object.entries((o.props.binaryData ?? {}) as Record<string, unknown>).map(([k, v]) => [k, typeof v === "string" ? Buffer.from(v, "base64").toString("utf8") : v] as const);
      for (const [k, v] of [...data, ...binary]) {
        if (typeof v !== "string") continue;
        const what = (isCredentialName(k) && isLiteral(v, "") ? "a credential" : null) ?? credentialIn(v) ?? (looksLikeS3SecretKey(v) ? "a secret-looking value (the shape of an S3 secret key)" : null);
        if (what) f(o.resource, `ConfigMap key ${k} holds ${what}; put it in a Secret`);
      }
    }
    for (const [path, annotations] of annotationsOf(o))
      for (const [k, v] of Object.entries(annotations)) {
        if (typeof v !== "string") continue;
        const what = (isCredentialName(k) && isLiteral(v, "") ? "a credential" : null) ?? credentialIn(v) ?? (looksLikeS3SecretKey(v) ? "a secret-looking value" : null);
        if (what) f(o.resource, `${path}.${k} holds ${what}; annotations are in the clear`);
      }
    for (const pod of podsOf(o))
      for (const c of pod.containers) {
        const line = [...(c.command ?? []), ...(c.args ?? [])].map(String).join(" ");
        const inLine = credentialIn(line);
        if (inLine) f(o.resource, `container ${c.name}'s command carries ${inLine} in the clear; read it from a Secret`);
        for (const e of (c.env ?? []) as Record<string, any>[]) {
          if (typeof e.value !== "string" || !isLiteral(e.value, "'")) continue;
          if (isCredentialName(String(e.name))) f(o.resource, `container ${c.name} sets ${e.name} to a literal value; use valueFrom.secretKeyRef`);
          else {
            const what = credentialIn(e.value) ?? (looksLikeS3SecretKey(e.value) ? "a secret-looking value" : null);
            if (what) f(o.resource, `container ${c.name} sets ${e.name} to ${what}; use valueFrom.secretKeyRef`);
          }
        }
      }
    if (/^kubernetes:helm\.sh\/v\d+:Chart$/.test(o.type))
      strings(o.props.values, "values", (path, key, value, siblings) => {
        if (value === "" || value === SECRET) return;
        const referenced = Object.keys(siblings).some((k) => SECRET_REFERENCE.test(k) && typeof siblings[k] === "string" && siblings[k] !== "");
        if (isCredentialName(key) && !referenced && isLiteral(value, "'")) f(o.resource, `${path} is a literal credential; pass it as a Pulumi secret or an existing Secret`);
        else {
          const what = credentialIn(value);
          if (what) f(o.resource, `${path} carries ${what} in the clear`);
        }
      });
  }
  return out;
}

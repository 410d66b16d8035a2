// What a message may show of a value a user typed. A private key pasted into the wrong key (an
// address, an image name) would otherwise be echoed whole by the check that refuses it, into a
// terminal, a CI log or a review. Every message a user sees passes through `redact` once: UserError
// does it when it is made (common/user-error.ts), and the places that print other errors (cli/exit.ts,
// stacks/program.ts, render) do it before they print.

export const REDACTED = "<redacted>";

/** Secret material as it reads in a message, in the clear or JSON-escaped (`\n` as two characters). */
const SECRETS: RegExp[] = [
  // A PEM private key (OpenSSH, PKCS#1/#8, EC), with its END line, or cut off before it.
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[^"'\s]*)/g,
  // A K3s token in its full form: K10<CA hash>::<user>:<password>.
  /\bK10[0-9a-f]{64}::[A-Za-z0-9_.-]+:[^\s"',;]+/g,
  // A long run of base64 with upper and lower case letters and digits (a key's body pasted without
  // its BEGIN line, a generated password), unless it follows an OpenSSH public key's type.
  /(?<!\b(?:ssh|ecdsa|sk)-[\w@.-]+ )(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[0-9])\b[A-Za-z0-9+/]{40,}={0,2}/g,
];

/** `name=value` and `name: value` where the name says the value is a credential. */
const CREDENTIAL = /(?<![A-Za-z0-9])(password|passwd|secret|token|private[_-]?key|secret[_-]?access[_-]?key|access[_-]?key)(["']?\s*[:=]\s*["']?)(?!<redacted>)([^\s"',;]+)/gi;

/** `text` with everything that looks like a private key, token or password replaced by <redacted>. */
export function redact(text: string): string {
  let out = text;
  for (const re of SECRETS) out = out.replace(re, REDACTED);
  return out.replace(CREDENTIAL, (_m, name: string, sep: string) => `${name}${sep}${REDACTED}`);
}

// How a script of ours travels to a machine and runs there: one quoting rule, one command line,
// one change marker, one file payload. Every remote command (the VMs, the host, K3s, Lima) is made
// of these, so they cannot disagree on how a value is quoted or when a command runs again.
import { createHash } from "node:crypto";

/**
 * `value` as one bash word, taken literally: wrapped in single quotes, each `'` written as `'\''`.
 * Nothing inside single quotes is special to bash (no `$`, backquote, backslash or glob), so this
 * is the whole rule. NUL cannot be part of a shell word at all and is refused.
 */
export function shellQuote(value: string): string {
  if (value.includes("\0")) throw new Error(`shell-quote: ${JSON.stringify(value)} contains a NUL byte, which no shell argument can carry`);
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command line that runs `script`: sshd hands a command to the user's login shell, which may
 * not be bash, so the script goes to bash as one quoted argument; stdin stays free for a payload
 * (the domain XML, the files of a seed or an install).
 */
export function bashCommand(script: string): string {
  return `bash -c ${shellQuote(script)}`;
}

/**
 * `NAME=<digest>`: a variable assignment in front of a command line that changes exactly when
 * `content` does (16 hex digits of its sha256). A remote command runs its update when its command
 * text changes, so a marker makes a change in something the command reads from elsewhere (a seed
 * uploaded by another command, a file's content on stdin) run the command again, and nothing else
 * does. In the command text, not the command's environment: sshd drops variables it does not
 * AcceptEnv, and the provider warns about each one on every run.
 */
export function changeMarker(name: string, content: string): string {
  if (!/^NUMA_K3S_[A-Z0-9_]+$/.test(name)) throw new Error(`changeMarker: ${name} is not a NUMA_K3S_ variable name`);
  return `${name}=${sha256Hex(content).slice(0, 16)}`;
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * Files sent on a command's stdin: one line per file, `<name> <base64 of its content>`, in the
 * given order. Base64 keeps every byte of the content (quotes, newlines, a token) away from the
 * shell that reads it.
 */
export function filesPayload(files: Record<string, string>): string {
  for (const name of Object.keys(files)) if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`filesPayload: ${JSON.stringify(name)} is not a plain file name`);
  return Object.entries(files)
    .map(([name, text]) => `${name} ${Buffer.from(text, "utf8").toString("base64")}\n`)
    .join("");
}

/** The files of a payload (what render and the policy pack show of a command's stdin). */
export function payloadFiles(payload: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const line of payload.split("\n")) {
    const m = /^([A-Za-z0-9._-]+) ([A-Za-z0-9+/=]*)$/.exec(line);
    if (m) files[m[1]] = Buffer.from(m[2], "base64").toString("utf8");
  }
  return files;
}

/**
 * The bash that reads a payload from stdin into `"$dir/.<name>.new"` for each file, refusing a
 * name not in `names`, and leaves the names read in the array `received`. The caller decides when
 * a staged file replaces the real one (at once for a seed; after its checks for a K3s install), so a
 * half-written file is never read. `say` must be a function of the script (one line to stderr).
 */
export function readPayloadBash(names: readonly string[]): string {
  return `received=()
while read -r file data; do
  case $file in
    ${names.join(" | ")}) ;;
    *) say "unexpected file '$file' on stdin"; exit 1 ;;
  esac
  base64 -d >"$dir/.$file.new" <<<"$data"
  received+=("$file")
done`;
}

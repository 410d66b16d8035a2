// How every offline command ends: known problems as one line and an exit code, never a stack trace.
import { redact } from "../common/redact";
import { UserError } from "../common/user-error";

const OUTPUT_ERRORS = ["ENOENT", "EACCES", "EISDIR", "ENOTDIR", "EROFS", "EPERM"];

export function run(main: () => number | Promise<number>): void {
  // `npm run plan | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
  Promise.resolve()
    .then(main)
    .then((code) => {
      process.exitCode = code;
    })
    .catch((e: unknown) => {
      const err = e as Error & { code?: string };
      // Redacted again: not every error that reaches here is a UserError made by us.
      if (e instanceof UserError || err.code?.startsWith("ERR_PARSE_ARGS")) {
        console.error(redact(err.message.split("\n")[0]));
        process.exitCode = e instanceof UserError ? e.exitCode : 2;
      } else if (OUTPUT_ERRORS.includes(err.code ?? "") && (err as NodeJS.ErrnoException).path) {
        // An output path the user gave (--lock, --svg, --out) that cannot be written.
        console.error(redact(`${(err as NodeJS.ErrnoException).path}: cannot write it (${err.code})`));
        process.exitCode = 2;
      } else {
        // A bug of ours, not the user's input: say so in one line, keep the detail for a report.
        console.error(redact(`internal error: ${err.message?.split("\n")[0] ?? String(e)} (run with NUMA_K3S_DEBUG=1 for the stack)`));
        if (process.env.NUMA_K3S_DEBUG) console.error(redact(err.stack ?? ""));
        process.exitCode = 1;
      }
    });
}

// The one root of every error a user can fix: a config key, a capture, a lock, a flag. The Pulumi
// program turns a UserError into a one-line RunError and the offline commands into exit 2; anything
// else is a bug of ours and keeps its stack trace. A new kind of user error extends this class, so
// no list of classes can forget it. Its message is redacted when it is made (common/redact.ts): a
// value a user pasted in the wrong place may be a private key, and every error echoes its value.
import { redact } from "./redact";

export class UserError extends Error {
  /** What the offline commands exit with: 2, the input is wrong. */
  readonly exitCode: number = 2;
  constructor(message: string) {
    super(redact(message));
    this.name = new.target.name;
  }
}

/** The input is well formed but asks for more than the hardware has (a placement, the models on
 * their VMs): exit 3, the same as a placement proved not to fit. */
export class DoesNotFit extends UserError {
  override readonly exitCode: number = 3;
}

/** `SUBJECT: FIELD = VALUE: WHY`, the shape every field check says its problem in. */
export function fieldProblem(subject: string, field: string, value: unknown, why: string): string {
  return `${subject}: ${field} = ${JSON.stringify(value)}: ${why}`;
}

// The errors a user can fix, the whole catalogue: what they wrote cannot be used (InputError, exit
// 2), it asks for more than the hardware has (DoesNotFit, exit 3), or the live host is not the one
// the plan was made for (HostMismatch). The Pulumi program turns each into a one-line RunError, the
// offline commands into their exit code; anything else is a bug of ours and keeps its stack trace.
// A kind gets its own class only when some code must tell it apart (catch it, exit differently).
// Every message is redacted when it is made (common/redact.ts): a value a user pasted in the wrong
// place may be a private key, and every error echoes its value.
import { redact } from "./redact";

export class UserError extends Error {
  /** What the offline commands exit with: 2, the input is wrong. */
  readonly exitCode: number = 2;
  constructor(message: string) {
    super(redact(message));
    this.name = new.target.name;
  }
}

/** A value a user wrote (a config key, a flag, a request, a lock, a component's argument) cannot
 * be used: the message names it, says why, and what would fit. Exit 2. */
export class InputError extends UserError {}

/** The live host differs from the capture the plan was made on, or its state cannot be read. */
export class HostMismatch extends UserError {}

/** The input is well formed but asks for more than the hardware has (a placement, the models on
 * their VMs): exit 3, the same as a placement proved not to fit. */
export class DoesNotFit extends UserError {
  override readonly exitCode: number = 3;
}

/** `SUBJECT: FIELD = VALUE: WHY`, the shape every field check says its problem in. */
export function fieldProblem(subject: string, field: string, value: unknown, why: string): string {
  return `${subject}: ${field} = ${JSON.stringify(value)}: ${why}`;
}

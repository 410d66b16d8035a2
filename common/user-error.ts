// The one root of every error a user can fix: a config key, a capture, a lock, a flag. The Pulumi
// program turns a UserError into a one-line RunError and the offline commands into exit 2; anything
// else is a bug of ours and keeps its stack trace. A new kind of user error extends this class, so
// no list of classes can forget it.
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** `SUBJECT: FIELD = VALUE: WHY`, the shape every field check says its problem in. */
export function fieldProblem(subject: string, field: string, value: unknown, why: string): string {
  return `${subject}: ${field} = ${JSON.stringify(value)}: ${why}`;
}

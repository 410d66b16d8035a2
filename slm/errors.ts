// A model list or a pool a user wrote that cannot run: one line naming the key, the value and what
// would fit (docs/architecture.md, "Errors"). The program turns it into a RunError without a stack trace.
import { UserError } from "../common/user-error";

export class SlmConfigError extends UserError {}

// Scalars as users write them in every input: `pulumi config set` stores `true` and `22` as the
// strings "true" and "22" (Pulumi's own getBoolean/getNumber parse them back), and a request file
// may say `cores: "4"`. Both are accepted wherever a number or a boolean is expected; anything
// else is refused with what was expected. One definition for stack config and request files.
import { z } from "zod";

const NUMBER_TEXT = /^\s*-?\d+(\.\d+)?\s*$/;

const fromText = (v: unknown) => (typeof v === "string" && NUMBER_TEXT.test(v) ? Number(v) : v);

/** A whole number >= min ("22" accepted). */
export function wholeNumber(min: number) {
  return z.preprocess(
    fromText,
    z
      .number({ error: `must be a whole number >= ${min}` })
      .int({ error: `must be a whole number >= ${min}` })
      .min(min, { error: `must be a whole number >= ${min}` }),
  );
}

/** A whole number in [min, max] ("22" accepted). */
export function wholeNumberIn(min: number, max: number) {
  const error = `must be a whole number from ${min} to ${max}`;
  return z.preprocess(fromText, z.number({ error }).int({ error }).min(min, { error }).max(max, { error }));
}

/** A number > 0 ("1.5" accepted). */
export function positiveNumber() {
  return z.preprocess(fromText, z.number({ error: "must be a number > 0" }).positive({ error: "must be a number > 0" }));
}

/** A number >= 0 ("4" accepted). */
export function nonNegativeNumber() {
  return z.preprocess(fromText, z.number({ error: "must be a number >= 0" }).nonnegative({ error: "must be a number >= 0" }));
}

/** true or false ("true"/"false" accepted, as Pulumi's getBoolean does). */
export function flag() {
  return z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean({ error: "must be true or false" }));
}

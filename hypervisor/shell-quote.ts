// Quoting for values interpolated into the bash scripts that run on the hypervisor.

/**
 * `value` as one bash word, taken literally: wrapped in single quotes, each `'` written as `'\''`.
 * Nothing inside single quotes is special to bash (no `$`, backquote, backslash or glob), so this
 * is the whole rule. NUL cannot be part of a shell word at all and is refused.
 */
export function shellQuote(value: string): string {
  if (value.includes("\0")) throw new Error(`shell-quote: ${JSON.stringify(value)} contains a NUL byte, which no shell argument can carry`);
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

// Memory as people read it. Captures and plans count KiB; messages, tables and pictures say GiB.

export const KIB_PER_GIB = 1024 * 1024;

/** "120 GiB", "1.5 GiB": rounded to `decimals`, trailing zeros dropped. */
export function gib(kib: number, decimals = 1): string {
  const scale = 10 ** decimals;
  return `${Math.round((kib / KIB_PER_GIB) * scale) / scale} GiB`;
}

/** "1 core", "2 cores": a count with its noun, singular for one. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

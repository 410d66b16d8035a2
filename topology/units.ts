// Memory as people read it. Captures and plans count KiB; messages, tables and pictures say GiB.

export const KIB_PER_GIB = 1024 * 1024;

/** "120 GiB", "1.5 GiB": rounded to `decimals`, trailing zeros dropped. */
export function gib(kib: number, decimals = 1): string {
  const scale = 10 ** decimals;
  return `${Math.round((kib / KIB_PER_GIB) * scale) / scale} GiB`;
}

// The picture's generic layout, apart from what it draws (as hwloc's lstopo keeps its layout
// apart from its outputs): text width estimates, blocks that know their size for a width budget,
// rows, columns, wrapping flows and titled frames. Nothing here knows about hosts or VMs.

/** The text colour. */
export const INK = "#000000";
/** A frame's outline, and the padding inside it in px. */
export const BOX_STROKE = "#555555";
export const BOX_PAD = 6;

// ---------------------------------------------------------------------------------------------
// Text: escaping and width estimates

export function esc(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/**
 * Advance widths in em, rounded up from DejaVu Sans (Verdana's metrics are close): enough to size
 * boxes and columns without a font engine. Bold runs about 10 % wider.
 */
function charEm(ch: string): number {
  if (/[0-9]/.test(ch)) return 0.64;
  if (/[ilj.,:;'|!]/.test(ch)) return 0.3;
  if (/[ ·]/.test(ch)) return 0.33;
  if (/[frt()\-[\]]/.test(ch)) return 0.42;
  if (/[mwMW]/.test(ch)) return 0.98;
  if (/[A-Z]/.test(ch)) return 0.74;
  return 0.63;
}

export function textWidth(text: string, fontSize: number, bold = false): number {
  let em = 0;
  for (const ch of text) em += charEm(ch);
  return Math.ceil(em * fontSize * (bold ? 1.1 : 1));
}

/**
 * The first of the texts that fits maxWidth, else the last one shortened with an ellipsis;
 * "" if not even one letter and the ellipsis fit.
 */
export function fitText(texts: string | string[], fontSize: number, maxWidth: number, bold = false): string {
  const options = typeof texts === "string" ? [texts] : texts;
  for (const option of options) if (textWidth(option, fontSize, bold) <= maxWidth) return option;
  const last = options[options.length - 1];
  const chars = [...last];
  for (let keep = chars.length - 1; keep >= 1; keep--) {
    const short = `${chars.slice(0, keep).join("")}…`;
    if (textWidth(short, fontSize, bold) <= maxWidth) return short;
  }
  return "";
}

/** Coordinates are integers except inside memory bars; one decimal keeps the output stable. */
export function num(value: number): string {
  return String(Math.round(value * 10) / 10);
}


export function text(
  x: number,
  y: number,
  content: string,
  fontSize: number,
  opts: { fill?: string; anchor?: "middle" | "end"; bold?: boolean; cls?: string; halo?: boolean } = {},
): string {
  const attrs = [`x="${num(x)}"`, `y="${num(y)}"`, `font-size="${fontSize}"`];
  if (opts.cls) attrs.unshift(`class="${opts.cls}"`);
  if (opts.anchor) attrs.push(`text-anchor="${opts.anchor}"`);
  if (opts.bold) attrs.push(`font-weight="bold"`);
  if (opts.fill && opts.fill !== INK) attrs.push(`fill="${opts.fill}"`);
  // A white outline under the glyphs keeps a label readable on a hatch.
  if (opts.halo) attrs.push(`stroke="#ffffff" stroke-width="3" paint-order="stroke"`);
  return `<text ${attrs.join(" ")}>${esc(content)}</text>`;
}

/** Baseline that centres a line of text of fontSize in a band of height h starting at y. */
export function middle(y: number, h: number, fontSize: number): number {
  return y + h / 2 + fontSize * 0.36;
}

// ---------------------------------------------------------------------------------------------
// Layout: a block knows its size once built for a width budget, and draws itself anywhere.

export interface Block {
  w: number;
  h: number;
  draw(x: number, y: number, out: string[]): void;
}

/** Children left to right, wrapping to a new row when the next one would pass maxWidth. */
export function flow(children: Block[], maxWidth: number, gap: number): Block {
  const rows: Block[][] = [];
  let rowWidth = 0;
  for (const child of children) {
    const current = rows[rows.length - 1];
    if (current !== undefined && rowWidth + gap + child.w <= maxWidth) {
      current.push(child);
      rowWidth += gap + child.w;
    } else {
      rows.push([child]);
      rowWidth = child.w;
    }
  }
  return stack(rows.map((r) => beside(r, gap)), gap);
}

/** Children left to right, top-aligned. */
export function beside(children: Block[], gap: number): Block {
  return {
    w: children.reduce((sum, c) => sum + c.w, 0) + gap * Math.max(0, children.length - 1),
    h: Math.max(0, ...children.map((c) => c.h)),
    draw(x, y, out) {
      let childX = x;
      for (const child of children) {
        child.draw(childX, y, out);
        childX += child.w + gap;
      }
    },
  };
}

/** Children top to bottom. */
export function stack(children: Block[], gap: number): Block {
  return {
    w: Math.max(0, ...children.map((c) => c.w)),
    h: children.reduce((sum, c) => sum + c.h, 0) + gap * Math.max(0, children.length - 1),
    draw(x, y, out) {
      let childY = y;
      for (const child of children) {
        child.draw(x, childY, out);
        childY += child.h + gap;
      }
    },
  };
}

export interface FrameStyle {
  title: string;
  titleFont: number;
  titleH: number;
  fill: string;
  /** Drawn under the title across the frame's inner width (a node's memory bar). */
  header?: { h: number; draw(x: number, y: number, w: number, out: string[]): void };
  tooltip?: string;
}

/** A titled box around content built for the width left inside the box. */
export function frame(style: FrameStyle, maxWidth: number, content: (maxInner: number) => Block): Block {
  const inner = content(maxWidth - 2 * BOX_PAD);
  const titleW = textWidth(style.title, style.titleFont, true);
  const innerW = Math.min(maxWidth - 2 * BOX_PAD, Math.max(inner.w, titleW, 120));
  const headerH = style.header ? style.header.h + 4 : 0;
  const w = innerW + 2 * BOX_PAD;
  const h = BOX_PAD + style.titleH + headerH + inner.h + BOX_PAD;
  return {
    w,
    h,
    draw(x, y, out) {
      out.push("<g>");
      if (style.tooltip) out.push(`<title>${esc(style.tooltip)}</title>`);
      out.push(
        `<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="3" fill="${style.fill}" stroke="${BOX_STROKE}"/>`,
      );
      const title = fitText(style.title, style.titleFont, innerW, true);
      out.push(text(x + BOX_PAD, y + BOX_PAD + style.titleFont, title, style.titleFont, { bold: true }));
      if (style.header) style.header.draw(x + BOX_PAD, y + BOX_PAD + style.titleH, innerW, out);
      inner.draw(x + BOX_PAD, y + BOX_PAD + style.titleH + headerH, out);
      out.push("</g>");
    },
  };
}


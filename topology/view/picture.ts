// The placement as a picture: one SVG map per host, drawn like hwloc's `lstopo` (nested boxes in
// the hardware's order, every thread labelled with its OS id) with each VM's cores filled in its
// own colour, so a reader finds "where does VM x run" at a glance. Pure: the same plan gives the
// same bytes (no clock, no randomness, no font metrics: text widths are estimated).
import { formatCpuset } from "../cpuset";
import { Core, HostTopology, NumaNode, Thread } from "../host-topology";
import { HostPlan, NodeUsage, Plan, VmPlacement } from "../placement";
import { gib } from "../units";
import { BOX_PAD, BOX_STROKE, INK, type Block, type FrameStyle, beside, esc, fitText, flow, frame, middle, num, stack, text, textWidth } from "./picture-layout";

/** The widest picture: legible on a 1600 px screen without scaling down. Taller is fine. */
export const PICTURE_MAX_WIDTH = 1600;

/**
 * Okabe & Ito's colour-blind-safe palette (black left out: it is the text colour), ordered so
 * that the first VMs of a plan get the most distinct hues. VM k of plan.vms gets colour k mod 7.
 */
export const VM_PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"];

const FONT_FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif";
/** Sizes in px. Thread labels at 10 px stay legible with 4-digit ids on a 1024-thread host. */
const S = {
  margin: 8,
  hostGap: 16,
  threadFont: 10,
  threadH: 18,
  threadMinW: 20,
  threadGap: 2,
  corePad: 2,
  coreGap: 4,
  stripH: 12,
  stripFont: 8,
  rowGap: 4,
  boxPad: BOX_PAD,
  boxGap: 6,
  titleFont: 11,
  titleH: 16,
  hostTitleFont: 13,
  hostTitleH: 20,
  memBarH: 8,
  legendFont: 11,
  legendRowH: 16,
  legendSwatch: 12,
  legendColGap: 14,
};

const FREE_FILL = "#ffffff";
const OFFLINE_FILL = "#eeeeee";
const OFFLINE_INK = "#8a8a8a";
const INCOMPLETE_STROKE = "#c62828";


/** Black or white, whichever reads better on the fill (WCAG relative luminance). */
function inkOn(fill: string): string {
  const channel = (hex: string) => {
    const c = parseInt(hex, 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const l =
    0.2126 * channel(fill.slice(1, 3)) + 0.7152 * channel(fill.slice(3, 5)) + 0.0722 * channel(fill.slice(5, 7));
  return l > 0.22 ? INK : "#ffffff";
}

// ---------------------------------------------------------------------------------------------
// What each thread of a host is used for, from the plan

interface VmStyle {
  vm: VmPlacement;
  fill: string;
  ink: string;
}

interface ThreadUse {
  vcpu?: { vm: VmStyle; index: number };
  emulatorOf: VmStyle[];
  iothreadOf: VmStyle[];
  reserved: boolean;
}

interface HostView {
  host: HostTopology;
  plan: HostPlan;
  vms: VmStyle[];
  use: Map<number, ThreadUse>;
  /** Digits of the largest thread id: every thread box of a host has the same width. */
  threadW: number;
  threadsPerCore: number;
}

function describeHost(host: HostTopology, hostPlan: HostPlan, planHostIndex: number, plan: Plan): HostView {
  const where = `plan.hosts[${planHostIndex}] ${hostPlan.name}`;
  const known = new Set(host.nodes.flatMap((n) => n.threads.map((t) => t.id)));
  const use = new Map<number, ThreadUse>();
  const useOf = (thread: number, what: string): ThreadUse => {
    if (!known.has(thread)) {
      throw new Error(
        `picture: ${what} is thread ${thread}, which ${where} (${host.source}) does not have; its threads are ${formatCpuset([...known])}`,
      );
    }
    let entry = use.get(thread);
    if (entry === undefined) {
      entry = { emulatorOf: [], iothreadOf: [], reserved: false };
      use.set(thread, entry);
    }
    return entry;
  };
  for (const usage of hostPlan.nodes) {
    for (const t of usage.reservedThreads) useOf(t, `${where} node ${usage.id} reservedThreads`).reserved = true;
  }
  const vms: VmStyle[] = [];
  plan.vms.forEach((vm, index) => {
    if (vm.host !== hostPlan.name) return;
    const fill = VM_PALETTE[index % VM_PALETTE.length];
    const style = { vm, fill, ink: inkOn(fill) };
    vms.push(style);
    const at = `plan.vms[${index}] ${vm.name}`;
    vm.vcpupin.forEach((t, vcpu) => {
      useOf(t, `${at} vcpupin[${vcpu}]`).vcpu = { vm: style, index: vcpu };
    });
    for (const t of vm.emulatorpin) useOf(t, `${at} emulatorpin`).emulatorOf.push(style);
    for (const t of vm.iothreadpin) useOf(t, `${at} iothreadpin`).iothreadOf.push(style);
  });
  const maxId = Math.max(0, ...known);
  const threadW = Math.max(S.threadMinW, textWidth(String(maxId), S.threadFont) + 6);
  const threadsPerCore = Math.max(
    host.threadsPerCore,
    ...host.nodes.flatMap((n) => n.cores.map((c) => c.threads.length)),
  );
  return { host, plan: hostPlan, vms, use, threadW, threadsPerCore };
}

// ---------------------------------------------------------------------------------------------
// Cores and threads

/** A core as drawn: its online threads and the offline siblings the capture names with it. */
interface CoreView {
  core: Core;
  threads: Thread[];
}

/**
 * Offline threads have no Core (Core.threads lists online ones); they sit in the core whose
 * first thread carries the same socket, die and core labels, else in the node's "offline" row.
 */
function coresOf(node: NumaNode): { cores: CoreView[]; strays: Thread[] } {
  const byId = new Map(node.threads.map((t) => [t.id, t]));
  const cores: CoreView[] = node.cores.map((core) => ({
    core,
    threads: core.threads.map((id) => byId.get(id) ?? offlineStub(id, core)),
  }));
  const strays: Thread[] = [];
  for (const thread of node.threads) {
    if (thread.online) continue;
    const home =
      thread.core === null
        ? undefined
        : cores.find((c) => {
            const first = c.threads[0];
            return first.core === thread.core && first.socket === thread.socket && first.die === thread.die;
          });
    if (home === undefined) strays.push(thread);
    else home.threads.push(thread);
  }
  for (const c of cores) c.threads.sort((a, b) => a.id - b.id);
  return { cores, strays };
}

/** A core thread the node's thread list forgot: drawn anyway, as online (Core says so). */
function offlineStub(id: number, core: Core): Thread {
  return { id, node: core.node, socket: core.socket, die: core.die, core: null, online: true };
}

function threadFill(view: HostView, thread: Thread): string {
  if (!thread.online) return OFFLINE_FILL;
  const use = view.use.get(thread.id);
  if (use?.vcpu) return use.vcpu.vm.fill;
  if (use?.reserved) return "url(#reserve)";
  if (use && use.emulatorOf.length > 0) return "url(#emulator)";
  return FREE_FILL;
}

function threadTooltip(view: HostView, thread: Thread): string {
  const parts = [`thread ${thread.id}`];
  if (!thread.online) parts.push("offline");
  const use = view.use.get(thread.id);
  if (use?.vcpu) parts.push(`${use.vcpu.vm.vm.name} vCPU ${use.vcpu.index}`);
  if (use?.reserved) parts.push("reserve");
  if (use && use.emulatorOf.length > 0) parts.push(`emulator of ${use.emulatorOf.map((s) => s.vm.name).join(", ")}`);
  if (use && use.iothreadOf.length > 0) parts.push(`iothreads of ${use.iothreadOf.map((s) => s.vm.name).join(", ")}`);
  if (parts.length === 1) parts.push("free");
  return parts.join(" · ");
}

function drawThread(view: HostView, thread: Thread, x: number, y: number, out: string[]): void {
  const w = view.threadW;
  const h = S.threadH;
  const use = view.use.get(thread.id);
  const fill = threadFill(view, thread);
  const pinned = use !== undefined && use.emulatorOf.length + use.iothreadOf.length > 0;
  const stroke = pinned ? ` stroke="${INK}" stroke-width="1.5" stroke-dasharray="3 2"` : ` stroke="${BOX_STROKE}"`;
  out.push(`<g><title>${esc(threadTooltip(view, thread))}</title>`);
  out.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="${fill}"${stroke}/>`);
  if (!thread.online) {
    out.push(`<line x1="${x}" y1="${y + h}" x2="${x + w}" y2="${y}" stroke="${OFFLINE_INK}"/>`);
  }
  const ink = !thread.online ? OFFLINE_INK : use?.vcpu ? use.vcpu.vm.ink : INK;
  out.push(
    text(x + w / 2, middle(y, h, S.threadFont), String(thread.id), S.threadFont, {
      fill: ink,
      anchor: "middle",
      cls: "thread",
      halo: fill.startsWith("url("),
    }),
  );
  out.push("</g>");
}

function coreWidth(view: HostView, threadsPerRow: number): number {
  return 2 * S.corePad + threadsPerRow * view.threadW + (threadsPerRow - 1) * S.threadGap;
}

/** Threads of a core in rows of threadsPerRow (one row unless a core is wider than the page). */
function coreBlock(view: HostView, core: CoreView, threadsPerRow: number): Block {
  const rows = Math.max(1, Math.ceil(core.threads.length / threadsPerRow));
  const w = coreWidth(view, threadsPerRow);
  const h = 2 * S.corePad + rows * S.threadH + (rows - 1) * S.threadGap;
  return {
    w,
    h,
    draw(x, y, out) {
      const stroke = core.core.complete
        ? `stroke="${BOX_STROKE}"`
        : `stroke="${INCOMPLETE_STROKE}" stroke-width="2"`;
      out.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="2" fill="#f4f4f4" ${stroke}/>`);
      core.threads.forEach((thread, i) => {
        const tx = x + S.corePad + (i % threadsPerRow) * (view.threadW + S.threadGap);
        const ty = y + S.corePad + Math.floor(i / threadsPerRow) * (S.threadH + S.threadGap);
        drawThread(view, thread, tx, ty, out);
      });
    },
  };
}

/** Who a core belongs to, for the name strip under a row: its vCPUs' VM, else the reserve. */
interface CoreOwner {
  key: string;
  label: string;
  /** For a run too narrow for the label (one core, say). */
  short: string;
  fill: string;
  ink: string;
}

function ownerOf(view: HostView, core: CoreView): CoreOwner | null {
  const uses = core.threads.map((t) => view.use.get(t.id));
  const vcpu = uses.find((u) => u?.vcpu)?.vcpu;
  const incomplete = core.core.complete ? "" : " (incomplete)";
  if (vcpu) {
    const name = vcpu.vm.vm.name;
    return { key: `vm:${name}`, label: name, short: name, fill: vcpu.vm.fill, ink: vcpu.vm.ink };
  }
  if (uses.some((u) => u?.reserved)) {
    const label = `reserve${incomplete}`;
    return { key: label, label, short: "reserve", fill: "url(#reserve)", ink: INK };
  }
  const emulator = uses.find((u) => u && u.emulatorOf.length > 0);
  if (emulator) {
    const names = [...new Set(emulator.emulatorOf.map((s) => s.vm.name))].join(", ");
    return { key: `emu:${names}`, label: `emulator: ${names}`, short: "emulator", fill: "url(#emulator)", ink: INK };
  }
  if (!core.core.complete) {
    return { key: "incomplete", label: "incomplete", short: "incomplete", fill: "#ffffff", ink: INCOMPLETE_STROKE };
  }
  return null;
}

/**
 * A node's (or a socket's share of a node's) cores in a grid: as many per row as the width allows,
 * rows balanced (64 cores in 3 rows is 22, 22, 20, not 28, 28, 8), each row underlined by a strip
 * naming the VM of each run of cores, so the names sit on the cores and not only in the legend.
 */
function coreGrid(view: HostView, cores: CoreView[], strays: Thread[], maxWidth: number): Block {
  const fitThreads = Math.max(1, Math.floor((maxWidth - 2 * S.corePad + S.threadGap) / (view.threadW + S.threadGap)));
  const threadsPerRow = Math.min(view.threadsPerCore, fitThreads);
  const coreW = coreWidth(view, threadsPerRow);
  const fit = Math.max(1, Math.floor((maxWidth + S.coreGap) / (coreW + S.coreGap)));
  const rowCount = Math.ceil(cores.length / fit);
  const perRow = rowCount === 0 ? 0 : Math.ceil(cores.length / rowCount);
  const rows: Block[] = [];
  for (let start = 0; start < cores.length; start += perRow) {
    rows.push(coreRow(view, cores.slice(start, start + perRow), threadsPerRow));
  }
  if (strays.length > 0) rows.push(strayRow(view, strays, maxWidth));
  if (rows.length === 0) {
    const note = "no CPUs (memory only)";
    rows.push({
      w: textWidth(note, S.titleFont),
      h: S.titleH,
      draw: (x, y, out) => out.push(text(x, middle(y, S.titleH, S.titleFont), note, S.titleFont, { fill: "#555555" })),
    });
  }
  return stack(rows, S.rowGap);
}

function coreRow(view: HostView, cores: CoreView[], threadsPerRow: number): Block {
  const blocks = cores.map((c) => coreBlock(view, c, threadsPerRow));
  const coreH = Math.max(...blocks.map((b) => b.h));
  const w = blocks.reduce((sum, b) => sum + b.w, 0) + S.coreGap * (blocks.length - 1);
  const owners = cores.map((c) => ownerOf(view, c));
  // A row of free cores needs no strip; leaving it out keeps big idle hosts compact.
  const stripH = owners.some((o) => o !== null) ? 2 + S.stripH : 0;
  return {
    w,
    h: coreH + stripH,
    draw(x, y, out) {
      let cx = x;
      const starts: number[] = [];
      blocks.forEach((b) => {
        starts.push(cx);
        b.draw(cx, y, out);
        cx += b.w + S.coreGap;
      });
      // Runs of neighbouring cores with one owner get one strip with the owner's name.
      let i = 0;
      while (i < cores.length) {
        const owner = owners[i];
        let j = i;
        while (j + 1 < cores.length && owners[j + 1]?.key === owner?.key && owner !== null) j++;
        if (owner !== null) {
          const sx = starts[i];
          const sw = starts[j] + blocks[j].w - sx;
          const sy = y + coreH + 2;
          out.push(`<rect x="${sx}" y="${sy}" width="${sw}" height="${S.stripH}" fill="${owner.fill}" stroke="${BOX_STROKE}" stroke-width="0.5"/>`);
          const label = fitText([owner.label, owner.short], S.stripFont, sw - 4);
          if (label !== "") {
            const tx = sx + sw / 2;
            const ty = middle(sy, S.stripH, S.stripFont);
            const patterned = owner.fill.startsWith("url(");
            // On a hatch, a white halo behind the text keeps it readable.
            if (patterned) {
              const lw = textWidth(label, S.stripFont);
              out.push(`<rect x="${num(tx - lw / 2 - 2)}" y="${sy + 1}" width="${num(lw + 4)}" height="${S.stripH - 2}" fill="#ffffff"/>`);
            }
            out.push(text(tx, ty, label, S.stripFont, { fill: owner.ink, anchor: "middle", cls: "owner" }));
          }
        }
        i = j + 1;
      }
    },
  };
}

/** Offline threads whose core the capture does not say: a row of their own, labelled. */
function strayRow(view: HostView, strays: Thread[], maxWidth: number): Block {
  const labelW = textWidth("offline:", S.stripFont) + 4;
  const perRow = Math.max(1, Math.floor((maxWidth - labelW + S.threadGap) / (view.threadW + S.threadGap)));
  const rows = Math.ceil(strays.length / perRow);
  return {
    w: labelW + Math.min(strays.length, perRow) * (view.threadW + S.threadGap),
    h: rows * S.threadH + (rows - 1) * S.threadGap,
    draw(x, y, out) {
      out.push(text(x, middle(y, S.threadH, S.stripFont), "offline:", S.stripFont, { fill: OFFLINE_INK }));
      strays.forEach((t, i) => {
        const tx = x + labelW + (i % perRow) * (view.threadW + S.threadGap);
        const ty = y + Math.floor(i / perRow) * (S.threadH + S.threadGap);
        drawThread(view, t, tx, ty, out);
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Nodes, sockets, hosts

/** Memory each VM of the host keeps on this node: interleaved VMs split evenly over the nodeset. */
function memoryOnNode(view: HostView, nodeId: number): { vm: VmStyle; kib: number }[] {
  return view.vms
    .filter((s) => s.vm.numatune.nodeset.includes(nodeId))
    .map((s) => ({ vm: s, kib: s.vm.memoryKiB / s.vm.numatune.nodeset.length }));
}

function nodeTitle(node: NumaNode, usage: NodeUsage | undefined): string {
  if (node.memoryKiB === null) return `node ${node.id} · memory unknown`;
  const free = usage === undefined ? "" : ` · free ${gib(usage.freeMemoryKiB)}`;
  return `node ${node.id} · ${gib(node.memoryKiB)}${free}`;
}

/**
 * The node's memory as one bar: each VM's share in its colour, then the reserve (hatched), huge
 * pages no VM takes (dotted), and what is left white. Scaled to the node's memory, or to the sum
 * of the parts when the capture has no memory for the node or the plan oversubscribes it.
 */
function memoryBar(view: HostView, node: NumaNode, usage: NodeUsage | undefined): FrameStyle["header"] {
  const vmShares = memoryOnNode(view, node.id);
  const vmHugeKiB = vmShares.filter((s) => s.vm.vm.hugepages !== null).reduce((sum, s) => sum + s.kib, 0);
  const parts: { kib: number; fill: string; tooltip: string }[] = vmShares.map((s) => ({
    kib: s.kib,
    fill: s.vm.fill,
    tooltip: `${s.vm.vm.name}: ${gib(s.kib)}${s.vm.vm.node === null ? " (interleaved share)" : ""}`,
  }));
  if (usage !== undefined && usage.reserveKiB > 0) {
    parts.push({ kib: usage.reserveKiB, fill: "url(#reserve)", tooltip: `reserve: ${gib(usage.reserveKiB)}` });
  }
  const idleHuge = usage === undefined ? 0 : Math.max(0, usage.hugepagesKiB - vmHugeKiB);
  if (idleHuge > 0) parts.push({ kib: idleHuge, fill: "url(#hugepages)", tooltip: `huge pages no VM takes: ${gib(idleHuge)}` });
  const used = parts.reduce((sum, p) => sum + p.kib, 0);
  // Without the node's size a bar would show the parts as the whole: the title says "unknown".
  if (node.memoryKiB === null) return undefined;
  const total = Math.max(node.memoryKiB, used);
  if (total === 0) return undefined;
  return {
    h: S.memBarH,
    draw(x, y, w, out) {
      out.push(`<g><title>${esc(`node ${node.id} memory: ${parts.map((p) => p.tooltip).join("; ")}`)}</title>`);
      out.push(`<rect x="${x}" y="${y}" width="${w}" height="${S.memBarH}" fill="${FREE_FILL}" stroke="${BOX_STROKE}"/>`);
      let px = x;
      for (const part of parts) {
        const pw = (part.kib / total) * w;
        if (pw >= 0.05) {
          out.push(`<rect x="${num(px)}" y="${y}" width="${num(pw)}" height="${S.memBarH}" fill="${part.fill}" stroke="${BOX_STROKE}" stroke-width="0.5"><title>${esc(part.tooltip)}</title></rect>`);
        }
        px += pw;
      }
      out.push("</g>");
    },
  };
}

function socketName(socket: number | null): string {
  return socket === null ? "socket (unnamed)" : `socket ${socket}`;
}

function sortSockets(sockets: (number | null)[]): (number | null)[] {
  // Ascending by id; the unnamed socket (null) last.
  return [...new Set(sockets)].sort((a, b) => (a === null ? 1 : b === null ? -1 : a - b));
}

/**
 * The sockets of a node's cores, ascending. An offline thread counts only when the capture names
 * its socket: libvirt prints offline threads bare, and "unknown" is not another socket.
 */
function socketsOfNode(node: NumaNode): (number | null)[] {
  const offlineSockets = node.threads.filter((t) => !t.online && t.socket !== null).map((t) => t.socket);
  return sortSockets([...node.cores.map((c) => c.socket), ...offlineSockets]);
}

function nodeFrame(
  view: HostView,
  node: NumaNode,
  maxWidth: number,
  content: (maxInner: number) => Block,
): Block {
  const usage = view.plan.nodes.find((n) => n.id === node.id);
  const style: FrameStyle = {
    title: nodeTitle(node, usage),
    titleFont: S.titleFont,
    titleH: S.titleH,
    fill: "#fbf6e6",
    header: memoryBar(view, node, usage),
    tooltip: `node ${node.id}: ${node.cores.length} cores, threads ${formatCpuset(node.threads.map((t) => t.id)) || "none"}`,
  };
  return frame(style, maxWidth, content);
}

/**
 * A node's cores, inside a box per L3 domain (the capture's L3 bank) when the node holds several,
 * as lstopo draws an L3 around its cores; one domain, or none known, draws no extra box. Domains
 * in the order of their first core.
 */
function l3Grid(view: HostView, cores: CoreView[], strays: Thread[], maxWidth: number): Block {
  const domains = new Map<number, CoreView[]>();
  for (const c of cores) {
    if (c.core.l3 === null) return coreGrid(view, cores, strays, maxWidth);
    const d = domains.get(c.core.l3);
    if (d) d.push(c);
    else domains.set(c.core.l3, [c]);
  }
  if (domains.size < 2) return coreGrid(view, cores, strays, maxWidth);
  const boxes = flow(
    [...domains].map(([id, members]) =>
      frame(
        { title: `L3 ${id}`, titleFont: S.stripFont + 1, titleH: S.titleH - 4, fill: "#f4efe0", tooltip: `L3 domain ${id}: ${members.length} cores` },
        maxWidth,
        (inner) => coreGrid(view, members, [], inner),
      ),
    ),
    maxWidth,
    S.boxGap,
  );
  return strays.length === 0 ? boxes : stack([boxes, strayRow(view, strays, maxWidth)], S.rowGap);
}

function socketFrame(socket: number | null, maxWidth: number, content: (maxInner: number) => Block): Block {
  return frame(
    { title: socketName(socket), titleFont: S.titleFont, titleH: S.titleH, fill: "#eef2f7", tooltip: socketName(socket) },
    maxWidth,
    content,
  );
}

/**
 * The hardware's order: host > socket > node > core when every node sits in one socket (also
 * NPS4/SNC, several nodes per socket); host > node > socket > core when a node spans sockets.
 * CPU-less nodes belong to no socket and come after the sockets.
 */
function hardwareBlock(view: HostView, maxWidth: number): Block {
  const nodes = view.host.nodes;
  const nodeSockets = new Map(nodes.map((n) => [n.id, socketsOfNode(n)]));
  const nodeSpansSockets = nodes.some((n) => (nodeSockets.get(n.id) ?? []).length > 1);
  const split = new Map(nodes.map((n) => [n.id, coresOf(n)]));

  if (nodeSpansSockets) {
    return flow(
      nodes.map((node) =>
        nodeFrame(view, node, maxWidth, (inner) => {
          const { cores, strays } = split.get(node.id)!;
          const sockets = nodeSockets.get(node.id) ?? [];
          if (sockets.length === 0) return coreGrid(view, [], strays, inner);
          const socketBlocks = flow(
            sockets.map((socket) =>
              socketFrame(socket, inner, (socketInner) =>
                coreGrid(
                  view,
                  cores.filter((c) => c.core.socket === socket),
                  strays.filter((t) => t.socket === socket),
                  socketInner,
                ),
              ),
            ),
            inner,
            S.boxGap,
          );
          // Offline threads of no known socket sit under the node's sockets.
          const unplaced = strays.filter((t) => !sockets.includes(t.socket));
          return unplaced.length === 0 ? socketBlocks : stack([socketBlocks, strayRow(view, unplaced, inner)], S.rowGap);
        }),
      ),
      maxWidth,
      S.boxGap,
    );
  }

  const withCpus = nodes.filter((n) => (nodeSockets.get(n.id) ?? []).length === 1);
  const memoryOnly = nodes.filter((n) => (nodeSockets.get(n.id) ?? []).length === 0);
  const sockets = sortSockets(withCpus.map((n) => nodeSockets.get(n.id)![0]));
  const nodeBlock = (node: NumaNode, width: number) =>
    nodeFrame(view, node, width, (inner) => {
      const { cores, strays } = split.get(node.id)!;
      return l3Grid(view, cores, strays, inner);
    });
  const socketBlocks = sockets.map((socket) =>
    socketFrame(socket, maxWidth, (inner) =>
      flow(
        withCpus.filter((n) => nodeSockets.get(n.id)![0] === socket).map((n) => nodeBlock(n, inner)),
        inner,
        S.boxGap,
      ),
    ),
  );
  return flow([...socketBlocks, ...memoryOnly.map((n) => nodeBlock(n, maxWidth))], maxWidth, S.boxGap);
}

// ---------------------------------------------------------------------------------------------
// Legend

function vmWhere(vm: VmPlacement): string {
  if (vm.node !== null) return `node ${vm.node}`;
  return `floating · memory on nodes ${formatCpuset(vm.numatune.nodeset)}`;
}

function legendBlock(view: HostView, maxWidth: number): Block {
  const f = S.legendFont;
  const rows = view.vms.map((s) => {
    const cores = s.vm.topology.cores;
    return {
      swatch: s.fill,
      cells: [
        s.vm.name,
        `${cores} ${cores === 1 ? "core" : "cores"} · ${s.vm.vcpus} vCPUs`,
        gib(s.vm.memoryKiB) + (s.vm.hugepages ? ` (${s.vm.hugepages.sizeKiB >= 1048576 ? "1G" : "2M"} pages)` : ""),
        vmWhere(s.vm),
        `threads ${formatCpuset(s.vm.vcpupin)}` +
          (s.vm.emulatorpin.length > 0 ? ` · emulator ${formatCpuset(s.vm.emulatorpin)}` : "") +
          (s.vm.iothreadpin.length > 0 ? ` · iothreads ${formatCpuset(s.vm.iothreadpin)}` : ""),
      ],
    };
  });
  const colW = [0, 1, 2, 3].map((c) => Math.max(0, ...rows.map((r) => textWidth(r.cells[c], f, c === 0))) + S.legendColGap);
  const textX = S.legendSwatch + 6;

  const keys = legendKeys(view);
  const keyBlocks: Block[] = keys.map((k) => {
    const w = S.legendSwatch + 4 + textWidth(k.label, f);
    return {
      w,
      h: S.legendRowH,
      draw(x, y, out) {
        out.push(`<rect x="${x}" y="${y + 2}" width="${S.legendSwatch}" height="${S.legendSwatch}" fill="${k.fill}" stroke="${k.stroke}"${k.strokeExtra}/>`);
        out.push(text(x + S.legendSwatch + 4, middle(y, S.legendRowH, f), k.label, f));
      },
    };
  });
  const keyFlow = flow(keyBlocks, maxWidth, 16);
  const tableW = Math.min(
    maxWidth,
    textX + colW.reduce((a, b) => a + b, 0) + Math.max(0, ...rows.map((r) => textWidth(r.cells[4], f))),
  );
  const tableH = rows.length * S.legendRowH;
  return {
    w: Math.max(tableW, keyFlow.w),
    h: tableH + (rows.length > 0 ? 4 : 0) + keyFlow.h,
    draw(x, y, out) {
      out.push(`<g class="legend">`);
      rows.forEach((r, i) => {
        const ry = y + i * S.legendRowH;
        out.push(`<rect x="${x}" y="${ry + 2}" width="${S.legendSwatch}" height="${S.legendSwatch}" fill="${r.swatch}" stroke="${BOX_STROKE}"/>`);
        let cx = x + textX;
        r.cells.forEach((cell, c) => {
          const room = c < 4 ? colW[c] : maxWidth - (cx - x);
          out.push(text(cx, middle(ry, S.legendRowH, f), fitText(cell, f, room, c === 0), f, { bold: c === 0, cls: c === 0 ? "vm" : undefined }));
          cx += c < 4 ? colW[c] : 0;
        });
      });
      keyFlow.draw(x, y + tableH + (rows.length > 0 ? 4 : 0), out);
      out.push("</g>");
    },
  };
}

/** The marks the picture uses besides VM colours; the rare ones only when this host has them. */
function legendKeys(view: HostView): { fill: string; stroke: string; strokeExtra: string; label: string }[] {
  const threads = view.host.nodes.flatMap((n) => n.threads);
  const cores = view.host.nodes.flatMap((n) => n.cores);
  const uses = [...view.use.values()];
  const keys = [
    { fill: "url(#reserve)", stroke: BOX_STROKE, strokeExtra: "", label: "reserve (host, emulators)" },
    { fill: FREE_FILL, stroke: BOX_STROKE, strokeExtra: "", label: "free" },
  ];
  if (uses.some((u) => u.emulatorOf.length + u.iothreadOf.length > 0)) {
    keys.push({ fill: "#ffffff", stroke: INK, strokeExtra: ` stroke-width="1.5" stroke-dasharray="3 2"`, label: "dashed: emulator / iothread pin" });
  }
  if (uses.some((u) => u.emulatorOf.length > 0 && !u.reserved && !u.vcpu)) {
    keys.push({ fill: "url(#emulator)", stroke: BOX_STROKE, strokeExtra: "", label: "dedicated emulator core" });
  }
  if (view.host.nodes.some((n) => n.pages.length > 1 && n.pages.slice(1).some((p) => p.count > 0))) {
    keys.push({ fill: "url(#hugepages)", stroke: BOX_STROKE, strokeExtra: "", label: "huge pages no VM takes" });
  }
  if (cores.some((c) => !c.complete)) {
    keys.push({ fill: "#f4f4f4", stroke: INCOMPLETE_STROKE, strokeExtra: ` stroke-width="2"`, label: "incomplete core (a sibling offline)" });
  }
  if (threads.some((t) => !t.online)) {
    keys.push({ fill: OFFLINE_FILL, stroke: BOX_STROKE, strokeExtra: "", label: "offline thread" });
  }
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Hosts and the document

function hostSummary(view: HostView): string {
  const nodes = view.host.nodes;
  const sockets = sortSockets(nodes.flatMap((n) => socketsOfNode(n)));
  const cores = nodes.reduce((sum, n) => sum + n.cores.length, 0);
  const threads = nodes.reduce((sum, n) => sum + n.threads.length, 0);
  const known = nodes.every((n) => n.memoryKiB !== null);
  const memory = known ? ` · ${gib(nodes.reduce((sum, n) => sum + (n.memoryKiB ?? 0), 0))}` : "";
  const plural = (k: number, word: string) => `${k} ${word}${k === 1 ? "" : "s"}`;
  return `host ${view.plan.name}${memory} · ${plural(sockets.length, "socket")} · ${plural(nodes.length, "node")} · ${plural(cores, "core")} · ${plural(threads, "thread")} · ${plural(view.vms.length, "VM")}`;
}

function hostBlock(view: HostView, maxWidth: number): Block {
  const summary = hostSummary(view);
  return frame(
    { title: summary, titleFont: S.hostTitleFont, titleH: S.hostTitleH, fill: "#ffffff" },
    maxWidth,
    (inner) => stack([legendBlock(view, inner), hardwareBlock(view, inner)], 10),
  );
}

const DEFS = [
  "<defs>",
  // Reserve: grey with dark diagonal hatching, unmistakable for a VM colour or for free.
  `<pattern id="reserve" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#dddddd"/><line x1="0" y1="0" x2="0" y2="6" stroke="#9a9a9a" stroke-width="2.5"/></pattern>`,
  `<pattern id="emulator" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(-45)"><rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#888888" stroke-width="1.5"/></pattern>`,
  `<pattern id="hugepages" patternUnits="userSpaceOnUse" width="4" height="4"><rect width="4" height="4" fill="#ffffff"/><circle cx="2" cy="2" r="1" fill="#888888"/></pattern>`,
  "</defs>",
].join("");

/**
 * The SVG map of every host of the plan, stacked top to bottom. hosts[i] is the topology of
 * plan.hosts[i]. At most PICTURE_MAX_WIDTH wide; it grows in height for big hosts.
 */
export function renderPicture(hosts: HostTopology[], plan: Plan): string {
  if (hosts.length !== plan.hosts.length) {
    throw new Error(
      `picture: ${hosts.length} host topologies for ${plan.hosts.length} plan hosts (${plan.hosts.map((h) => h.name).join(", ")}); pass one per plan.hosts entry, in the same order`,
    );
  }
  const names = new Set(plan.hosts.map((h) => h.name));
  plan.vms.forEach((vm, i) => {
    if (!names.has(vm.host)) {
      throw new Error(`picture: plan.vms[${i}] ${vm.name} has host '${vm.host}', not one of the plan's hosts (${[...names].join(", ")})`);
    }
  });
  const maxWidth = PICTURE_MAX_WIDTH - 2 * S.margin;
  const views = hosts.map((host, i) => describeHost(host, plan.hosts[i], i, plan));
  const blocks = views.map((view) => ({ view, block: hostBlock(view, maxWidth) }));
  const width = Math.max(...blocks.map((b) => b.block.w)) + 2 * S.margin;
  const height = blocks.reduce((sum, b) => sum + b.block.h, 0) + S.hostGap * Math.max(0, blocks.length - 1) + 2 * S.margin;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}" role="img">`,
  );
  out.push(`<title>${esc(`NUMA placement of ${plan.vms.length} VMs on ${plan.hosts.map((h) => h.name).join(", ")}`)}</title>`);
  out.push(DEFS);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  let y = S.margin;
  for (const { view, block } of blocks) {
    out.push(`<g class="host" aria-label="${esc(view.plan.name)}"><title>${esc(hostSummary(view))}</title>`);
    block.draw(S.margin, y, out);
    out.push("</g>");
    y += block.h + S.hostGap;
  }
  out.push("</svg>");
  return out.join("\n") + "\n";
}

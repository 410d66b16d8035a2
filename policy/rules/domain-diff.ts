// How a domain differs from the placement the plan decided for its VM, each difference under the
// rule that owns that part of the domain. The vCPUs' shape (count, pins, guest topology) is owned
// by the hardware rules when the difference breaks one of them (a vCPU on another node, on a
// reserved or another VM's core, not whole cores), and only otherwise by domain-matches-plan (a
// vCPU moved to a free core of the right node): `shape` marks those.
import { formatCpuset } from "../../topology/cpuset";
import type { VmPlacement } from "../../topology/placement";
import type { DomainRead } from "./domain-placement";
import type { RuleName } from "./model";

export interface Difference {
  rule: RuleName;
  detail: string;
  /** A difference in the vCPUs' shape: said by a hardware rule when one sees it, else by this rule. */
  shape?: true;
}

const set = (ids: readonly number[]) => formatCpuset(ids.filter((t) => t >= 0)) || "none";
const sameSet = (a: readonly number[], b: readonly number[]) => set([...new Set(a)]) === set([...new Set(b)]);
const gib = (kib: number) => `${kib % 1048576 === 0 ? kib / 1048576 : (kib / 1048576).toFixed(2)} GiB`;

export function differences(read: DomainRead, p: VmPlacement): Difference[] {
  const out: Difference[] = [];
  const d = (rule: RuleName, detail: string, shape?: true) => out.push(shape ? { rule, detail, shape } : { rule, detail });

  // vCPUs, pin by pin, and the guest topology.
  if (read.vcpus !== p.vcpus) d("domain-matches-plan", `has ${read.vcpus} vCPUs, the plan gives it ${p.vcpus}`, true);
  else {
    const moved = read.vcpupin.map((t, v) => ({ v, t })).filter(({ v, t }) => t !== p.vcpupin[v]);
    if (moved.length > 0) {
      const where = (t: number) => (t < 0 ? "no single thread" : `thread ${t}`);
      d("domain-matches-plan", `vCPU ${moved.map(({ v, t }) => `${v} on ${where(t)}`).join(", ")}; the plan pins ${moved.length > 1 ? "them" : "it"} to ${moved.map(({ v }) => p.vcpupin[v]).join(", ")}`, true);
    }
  }
  const t = p.topology;
  if (!read.topology) d("whole-cores", `has no <cpu><topology>: the guest sees ${read.vcpus} single-thread sockets, the plan gives ${t.cores} cores of ${t.threads} threads`);
  else if (JSON.stringify({ ...read.topology }) !== JSON.stringify({ sockets: t.sockets, dies: t.dies, cores: t.cores, threads: t.threads }))
    d("whole-cores", `guest topology ${JSON.stringify(read.topology)}, the plan gives ${JSON.stringify(t)}`, true);
  // The guest's NUMA: one cell with every vCPU and all the memory (what the kubelet aligns pods to).
  const all = Array.from({ length: p.vcpus }, (_, i) => i);
  if (read.cells.length !== 1 || read.cells[0].id !== 0 || !sameSet(read.cells[0].cpus, all))
    d("whole-cores", `guest NUMA cells ${read.cells.map((c) => `${c.id}: vCPUs ${set(c.cpus)}`).join("; ") || "none"}; the plan gives one cell 0 with vCPUs ${set(all)}`);

  // Emulator threads and every iothread.
  if (!sameSet(read.emulatorpin, p.emulatorpin))
    d("emulator-isolated", read.emulatorpin.length === 0 ? `has no <emulatorpin>: QEMU's own threads float over every thread of the host; the plan pins them to ${set(p.emulatorpin)}` : `emulator threads on ${set(read.emulatorpin)}; the plan pins them to ${set(p.emulatorpin)}`);
  for (const io of read.iothreads)
    if (io.pin === null) d("emulator-isolated", `iothread ${io.id} has no <iothreadpin>: it floats over every thread of the host; the plan pins iothreads to ${set(p.iothreadpin)}`);
    else if (!sameSet(io.pin, p.iothreadpin)) d("emulator-isolated", `iothread ${io.id} on ${set(io.pin)}; the plan pins iothreads to ${set(p.iothreadpin)}`);
  for (const id of read.strayIothreadPins) d("emulator-isolated", `<iothreadpin iothread='${id}'> names an iothread the domain does not have`);

  // Where the memory comes from: numatune, and the binding of each guest cell.
  const bound = `${p.numatune.mode} to node${p.numatune.nodeset.length > 1 ? "s" : ""} ${set(p.numatune.nodeset)}`;
  if (!read.numatune) d("memory-strict-local", `has no <numatune>: its memory may come from any node; the plan binds it ${bound}`);
  else if (read.numatune.mode !== p.numatune.mode || !sameSet(read.numatune.nodeset, p.numatune.nodeset))
    d("memory-strict-local", `numatune ${read.numatune.mode} ${set(read.numatune.nodeset)}; the plan binds its memory ${bound}`);
  for (const m of read.memnodes) {
    if (!read.cells.some((c) => c.id === m.cellid)) d("memory-strict-local", `memnode names guest cell ${m.cellid}, which the domain does not have`);
    else if (m.mode !== p.numatune.mode || !sameSet(m.nodeset, p.numatune.nodeset))
      d("memory-strict-local", `memnode of guest cell ${m.cellid} is ${m.mode} ${set(m.nodeset)}; the plan binds its memory ${bound}`);
  }

  // How much memory, and what backs it.
  if (read.memoryKiB !== p.memoryKiB) d("node-capacity", `has ${gib(read.memoryKiB)} of memory, the plan gives it ${gib(p.memoryKiB)}`);
  if (read.currentMemoryKiB !== null && read.currentMemoryKiB !== read.memoryKiB) d("node-capacity", `currentMemory ${gib(read.currentMemoryKiB)} is not its memory ${gib(read.memoryKiB)}`);
  const cellMemory = read.cells.reduce((s, c) => s + c.memoryKiB, 0);
  if (read.cells.length > 0 && cellMemory !== p.memoryKiB) d("node-capacity", `its guest cells hold ${gib(cellMemory)}, the plan gives it ${gib(p.memoryKiB)}`);
  const planned = p.hugepages ? `${p.hugepages.sizeKiB} KiB pages` : "ordinary memory (no huge pages reserved for it)";
  if (read.hugepages === null) {
    if (p.hugepages) d("node-capacity", `has ordinary memory; the plan gives it ${planned}`);
  } else {
    for (const page of read.hugepages) {
      const what = page.sizeKiB === null ? "huge pages of the host's default size (<hugepages> without <page size>)" : `${page.sizeKiB} KiB huge pages`;
      if (page.sizeKiB === null || page.sizeKiB !== p.hugepages?.sizeKiB) d("node-capacity", `backs its memory with ${what}; the plan gives it ${planned}`);
      else if (page.nodeset !== null && !read.cells.every((c) => page.nodeset!.includes(c.id))) d("node-capacity", `huge pages only for guest cells ${set(page.nodeset)}; the plan backs all its memory with ${planned}`);
    }
  }

  for (const u of read.unknown) d("domain-matches-plan", `${u} is not something numa-guard understands: the plan decides pins, memory and huge pages only`);
  return out;
}

// The drift check: a host's live state (host-state.ts) against what its plan says the host should
// be. One line per difference, naming the host, the setting or domain, what the plan expects and
// what is live. Pure: values in, lines out.
//
// What is compared:
// 1. the kernel command line: each isolation parameter as a set of threads (tuned may list them
//    differently), the huge-page parameters word for word;
// 2. /sys/devices/system/cpu/isolated (cmdline mode: it is what isolcpus made of the parameter);
// 3. nr_hugepages per node and size;
// 4. the governor on each VM thread (threads without cpufreq have none to compare: a note);
// 5. the wake-latency limit on each VM thread;
// 6. each planned domain: running, and its live vcpupin, emulatorpin and numatune.
import { formatCpuset, parseCpuset } from "../topology/cpuset";
import { sizeName } from "./hugepages";
import { cmdlineWords } from "./kernel-cmdline";
import type { HostState } from "./host-state";
import type { HostSettings } from "./settings";
import { tunedCmdlineParameters } from "./tuned";

export interface Drift {
  differences: string[];
  /** Things worth saying that are not differences (no cpufreq, say). */
  notes: string[];
}

const cpus = (ids: readonly number[] | null) => (ids === null ? "(absent)" : ids.length === 0 ? "(none)" : formatCpuset(ids));
const sameSet = (a: readonly number[], b: readonly number[]) => formatCpuset([...a].sort((x, y) => x - y)) === formatCpuset([...b].sort((x, y) => x - y));

/** `isolcpus=managed_irq,domain,2-5` -> flags and threads; a list the kernel would not read -> null. */
function cpulistParameter(value: string): { flags: string[]; threads: number[] } | null {
  const parts = value.split(",");
  const flags: string[] = [];
  while (parts.length > 0 && /^[a-z_]+$/.test(parts[0])) flags.push(parts.shift()!);
  try {
    return { flags: flags.sort(), threads: parseCpuset(parts.join(",")) };
  } catch {
    return null;
  }
}

const CPULIST_KEYS = new Set(["isolcpus", "nohz_full", "rcu_nocbs", "irqaffinity"]);

function cmdlineDrift(s: HostSettings, live: string, at: string): string[] {
  const words = cmdlineWords(live);
  const lastValue = (key: string) => [...words].reverse().find((w) => w.split("=")[0] === key)?.slice(key.length + 1);
  const wanted = s.isolation === "cmdline" ? s.bootParameters : [...tunedCmdlineParameters(s), ...s.bootParameters];
  const lines: string[] = [];
  for (const w of wanted) {
    const key = w.split("=")[0];
    const value = w.slice(key.length + 1);
    if (CPULIST_KEYS.has(key)) {
      const liveValue = lastValue(key);
      const want = cpulistParameter(value)!;
      const got = liveValue === undefined ? null : cpulistParameter(liveValue);
      if (got === null || got.flags.join() !== want.flags.join() || !sameSet(got.threads, want.threads))
        lines.push(`${at}: kernel command line ${key}: expected ${value}, live ${liveValue ?? "(absent)"}`);
    } else if (!words.includes(w)) {
      const liveValue = key === "hugepages" || key === "hugepagesz" ? words.filter((x) => x.startsWith(`${key}=`)).join(" ") : lastValue(key);
      lines.push(`${at}: kernel command line ${key}: expected ${w}, live ${liveValue || "(absent)"}`);
    }
  }
  return lines;
}

/** Group threads by their live value: one line per distinct wrong value, not one per thread. */
function perThread(values: Map<number, string | null>, threads: readonly number[], expected: string, at: string, what: string): string[] {
  const wrong = new Map<string, number[]>();
  for (const t of threads) {
    const v = values.get(t);
    if (v === undefined || v === null || v === expected) continue;
    wrong.set(v, [...(wrong.get(v) ?? []), t]);
  }
  return [...wrong].map(([v, ts]) => `${at}: ${what} on threads ${cpus(ts)}: expected ${expected}, live ${v}`);
}

export function hostDrift(s: HostSettings, live: HostState): Drift {
  const at = `host ${s.host}`;
  const differences: string[] = [];
  const notes: string[] = [];

  // 1, 2.
  if (live.cmdline === null) differences.push(`${at}: /proc/cmdline could not be read`);
  else differences.push(...cmdlineDrift(s, live.cmdline, at));
  if (s.isolation === "cmdline" && s.vmThreads.length > 0 && (live.isolated === null || !sameSet(live.isolated, s.vmThreads)))
    differences.push(`${at}: isolated threads (/sys/devices/system/cpu/isolated): expected ${cpus(s.vmThreads)}, live ${cpus(live.isolated)}`);

  // 3.
  for (const p of [...s.pages.runtime, ...s.pages.boot]) {
    const got = live.hugepages.get(`${p.node}/${p.sizeKiB}`);
    if (got !== p.count) differences.push(`${at}: node ${p.node} ${sizeName(p.sizeKiB)} huge pages: expected ${p.count}, live ${got ?? "(no such pool)"}`);
  }

  // 4, 5.
  differences.push(...perThread(live.governor, s.vmThreads, "performance", at, "governor"));
  const noCpufreq = s.vmThreads.filter((t) => live.governor.get(t) === null);
  if (noCpufreq.length > 0) notes.push(`${at}: no cpufreq on threads ${cpus(noCpufreq)}: no governor to compare there`);
  differences.push(...perThread(live.latency, s.vmThreads, String(s.maxWakeLatencyUs ?? 0), at, "wake-latency limit (µs, 0 = none)"));

  differences.push(...domainDrift(s, live));
  return { differences, notes };
}

/** Step 6 alone: each planned domain running, with its live pins and memory binding as planned. */
export function domainDrift(s: HostSettings, live: HostState): string[] {
  const at = `host ${s.host}`;
  const differences: string[] = [];
  for (const vm of s.domains) {
    const dom = `${at}: domain ${vm.name}`;
    const d = live.domains.get(vm.name);
    if (!d || d.state === null) {
      differences.push(`${dom}: expected running, live not defined${d && d.errors.length > 0 ? ` (${d.errors[0]})` : ""}`);
      continue;
    }
    if (d.state !== "running") {
      differences.push(`${dom}: expected running, live ${d.state} (live pins cannot be read)`);
      continue;
    }
    if (d.vcpupin === null) differences.push(`${dom}: vcpupin not read: ${d.errors.join("; ") || "no output"}`);
    else {
      vm.vcpupin.forEach((thread, vcpu) => {
        const got = d.vcpupin!.get(vcpu);
        if (got === undefined) differences.push(`${dom} vCPU ${vcpu}: expected thread ${thread}, live (no such vCPU)`);
        else if (!sameSet(got, [thread])) differences.push(`${dom} vCPU ${vcpu}: expected thread ${thread}, live ${cpus(got)}`);
      });
      const extra = [...d.vcpupin.keys()].filter((v) => v >= vm.vcpupin.length);
      if (extra.length > 0) differences.push(`${dom}: expected ${vm.vcpupin.length} vCPUs, live ${d.vcpupin.size}`);
    }
    if (d.emulatorpin === null) differences.push(`${dom}: emulatorpin not read: ${d.errors.join("; ") || "no output"}`);
    else if (!sameSet(d.emulatorpin, vm.emulatorpin)) differences.push(`${dom} emulatorpin: expected ${cpus(vm.emulatorpin)}, live ${cpus(d.emulatorpin)}`);
    if (d.numatune === null) differences.push(`${dom}: numatune not read: ${d.errors.join("; ") || "no output"}`);
    else {
      const want = `${vm.numatune.mode} ${cpus(vm.numatune.nodeset)}`;
      const got = `${d.numatune.mode} ${cpus(d.numatune.nodeset)}`;
      if (want !== got) differences.push(`${dom} numatune: expected ${want}, live ${got}`);
    }
  }
  return differences;
}

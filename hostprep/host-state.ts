// The live state of a host, as far as its plan decides it: one read-only script prints it in
// sections, and parseHostState reads those sections back. The drift check (drift.ts) compares the
// result with the plan. Pure: the script is text, the parsers take the text it printed.
//
// Output format: a line `@@ <section> [<args>]` starts each section; its body is the command's
// output, verbatim. Sections: cmdline, isolated, hugepages <node> <sizeKiB>, governor <thread>,
// latency <thread>, domstate <domain>, vcpupin <domain>, emulatorpin <domain>, numatune <domain>.
// A file that does not exist prints `@@ absent` as its body; a failed virsh prints `@@ error <text>`.
import { shellQuote } from "../common/remote-script";
import { parseCpuset } from "../topology/cpuset";
import type { HostSettings } from "./settings";
import { HostMismatch } from "../common/user-error";

export interface DomainState {
  /** First line of `virsh domstate`: running, paused, shut off; null when virsh found no domain. */
  state: string | null;
  /** vCPU -> threads it may run on, from `virsh vcpupin NAME --live`; null when not read. */
  vcpupin: Map<number, number[]> | null;
  emulatorpin: number[] | null;
  numatune: { mode: string; nodeset: number[] | null } | null;
  /** Why a part could not be read (virsh's own message). */
  errors: string[];
}

export interface HostState {
  cmdline: string | null;
  /** /sys/devices/system/cpu/isolated: [] when empty, null when absent. */
  isolated: number[] | null;
  /** `node/sizeKiB` -> nr_hugepages; absent when the kernel offers no such pool. */
  hugepages: Map<string, number>;
  /** thread -> scaling_governor; null where the thread has no cpufreq. */
  governor: Map<number, string | null>;
  /** thread -> pm_qos_resume_latency_us text (`0` = no limit, `n/a` = none tolerated). */
  latency: Map<number, string | null>;
  domains: Map<string, DomainState>;
}

/** The read-only script: reads sysfs, procfs and virsh; changes nothing. */
export function stateScript(s: HostSettings, opts: { sysRoot?: string; procRoot?: string } = {}): string {
  const q = shellQuote;
  const pools = [...s.pages.runtime, ...s.pages.boot].map((p) => q(`${p.node} ${p.sizeKiB}`));
  return `set -euo pipefail
uri=${q(s.libvirt.uri)}
sys=${q(opts.sysRoot ?? "/sys")}
proc=${q(opts.procRoot ?? "/proc")}
vm_threads=(${s.vmThreads.join(" ")})
pools=(${pools.join(" ")})
domains=(${s.domains.map((d) => q(d.name)).join(" ")})
show() { if [[ -r $1 ]]; then cat "$1"; else echo "@@ absent"; fi; }
vsh() { local out; if out=$(virsh -q -c "$uri" "$@" 2>&1); then printf '%s\\n' "$out"; else printf '@@ error %s\\n' "\${out//$'\\n'/ }"; fi; }
echo "@@ cmdline"; show "$proc/cmdline"
echo "@@ isolated"; show "$sys/devices/system/cpu/isolated"
for pool in "\${pools[@]}"; do
  read -r node size <<<"$pool"
  echo "@@ hugepages $node $size"; show "$sys/devices/system/node/node$node/hugepages/hugepages-\${size}kB/nr_hugepages"
done
for t in "\${vm_threads[@]}"; do
  echo "@@ governor $t"; show "$sys/devices/system/cpu/cpu$t/cpufreq/scaling_governor"
  echo "@@ latency $t"; show "$sys/devices/system/cpu/cpu$t/power/pm_qos_resume_latency_us"
done
for d in "\${domains[@]}"; do
  echo "@@ domstate $d"; vsh domstate "$d"
  echo "@@ vcpupin $d"; vsh vcpupin "$d" --live
  echo "@@ emulatorpin $d"; vsh emulatorpin "$d" --live
  echo "@@ numatune $d"; vsh numatune "$d" --live
done
`;
}

interface Section {
  name: string;
  args: string[];
  body: string[];
}

function sections(text: string): Section[] {
  const out: Section[] = [];
  for (const line of text.split("\n")) {
    const head = /^@@ (cmdline|isolated|hugepages|governor|latency|domstate|vcpupin|emulatorpin|numatune)(?: (.*))?$/.exec(line);
    if (head) out.push({ name: head[1], args: head[2] ? head[2].split(" ") : [], body: [] });
    else if (out.length > 0) out[out.length - 1].body.push(line);
    else if (line.trim() !== "") throw new HostMismatch(`host state: '${line}' before the first section: not the output of the state script`);
  }
  return out;
}

const bodyText = (s: Section) => s.body.join("\n").trim();
const isAbsent = (s: Section) => bodyText(s) === "@@ absent";
const errorOf = (s: Section) => (bodyText(s).startsWith("@@ error ") ? bodyText(s).slice("@@ error ".length) : null);

function cpusetOrFail(text: string, what: string): number[] {
  try {
    return parseCpuset(text);
  } catch (e) {
    throw new HostMismatch(`${what}: ${(e as Error).message}`);
  }
}

/**
 * `virsh vcpupin NAME --live`: one line per vCPU, `   0   28` (libvirt 9, with -q; without it a
 * header `VCPU   CPU Affinity` and a rule come first, and libvirt 1.x wrote `0: 28`).
 */
export function parseVcpupin(text: string): Map<number, number[]> {
  const pins = new Map<number, number[]>();
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+):?\s+(\S+)\s*$/.exec(line);
    if (m) pins.set(Number(m[1]), cpusetOrFail(m[2], `vcpupin line '${line.trim()}'`));
  }
  if (pins.size === 0) throw new HostMismatch(`virsh vcpupin printed no vCPU: '${text.trim().slice(0, 80)}'`);
  return pins;
}

/** `virsh emulatorpin NAME --live`: `       *: 16-17,52-53` under a header; with `virsh -q` the
 * cpuset alone (`16-17,52-53`). */
export function parseEmulatorpin(text: string): number[] {
  const star = /^\s*\*:\s*(\S+)\s*$/m.exec(text);
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const bare = lines.length === 1 && /^[\d,^-]+$/.test(lines[0]) ? lines[0] : undefined;
  const cpuset = star?.[1] ?? bare;
  if (cpuset === undefined) throw new HostMismatch(`virsh emulatorpin printed neither '*: <cpuset>' nor a cpuset: '${text.trim().slice(0, 80)}'`);
  return cpusetOrFail(cpuset, "emulatorpin");
}

/** `virsh numatune NAME --live`: `numa_mode      : strict` and `numa_nodeset   : 1` (nodeset empty
 * when the domain has none). */
export function parseNumatune(text: string): { mode: string; nodeset: number[] | null } {
  const field = (key: string) => new RegExp(`^\\s*${key}\\s*:\\s*(.*?)\\s*$`, "m").exec(text)?.[1];
  const mode = field("numa_mode");
  if (mode === undefined) throw new HostMismatch(`virsh numatune printed no numa_mode: '${text.trim().slice(0, 80)}'`);
  const nodeset = field("numa_nodeset");
  return { mode, nodeset: nodeset ? cpusetOrFail(nodeset, "numa_nodeset") : null };
}

export function parseHostState(text: string): HostState {
  const state: HostState = { cmdline: null, isolated: null, hugepages: new Map(), governor: new Map(), latency: new Map(), domains: new Map() };
  const domain = (name: string) => {
    let d = state.domains.get(name);
    if (!d) state.domains.set(name, (d = { state: null, vcpupin: null, emulatorpin: null, numatune: null, errors: [] }));
    return d;
  };
  for (const s of sections(text)) {
    const text = bodyText(s);
    switch (s.name) {
      case "cmdline":
        state.cmdline = isAbsent(s) ? null : text;
        break;
      case "isolated":
        state.isolated = isAbsent(s) ? null : text === "" ? [] : cpusetOrFail(text, "isolated");
        break;
      case "hugepages":
        if (!isAbsent(s)) state.hugepages.set(`${s.args[0]}/${s.args[1]}`, Number(text));
        break;
      case "governor":
        state.governor.set(Number(s.args[0]), isAbsent(s) ? null : text);
        break;
      case "latency":
        state.latency.set(Number(s.args[0]), isAbsent(s) ? null : text);
        break;
      default: {
        const d = domain(s.args[0]);
        const error = errorOf(s);
        if (error !== null) {
          if (!d.errors.includes(error)) d.errors.push(error);
          break;
        }
        if (s.name === "domstate") d.state = text.split("\n")[0].trim();
        else if (s.name === "vcpupin") d.vcpupin = parseVcpupin(text);
        else if (s.name === "emulatorpin") d.emulatorpin = parseEmulatorpin(text);
        else d.numatune = parseNumatune(text);
      }
    }
  }
  return state;
}

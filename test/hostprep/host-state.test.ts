// The drift check's parsers on real virsh output (libvirt 9, captured here) and on the reference
// host's state, in sync and drifted (hand-written, see test/fixtures/host-state/README.md).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { hostDrift } from "../../hostprep/drift";
import { parseEmulatorpin, parseHostState, parseNumatune, parseVcpupin } from "../../hostprep/host-state";
import { referenceSingle } from "./hosts";
import { HostMismatch } from "../../common/user-error";

const fixture = (name: string) => readFileSync(join(__dirname, "../fixtures/host-state", name), "utf8");

describe("virsh output parsers", () => {
  it.each(["virsh-vcpupin-live.txt", "virsh-q-vcpupin-live.txt"])("vcpupin: %s", (file) => {
    expect(parseVcpupin(fixture(file))).toEqual(new Map([[0, [0]]]));
  });
  it("vcpupin: ranges and several vCPUs, and libvirt 1.x's `0: 28` form", () => {
    expect(parseVcpupin(" 0   28\n 1   64\n 2   0-3,^2\n")).toEqual(new Map([[0, [28]], [1, [64]], [2, [0, 1, 3]]]));
    expect(parseVcpupin("VCPU: CPU Affinity\n----------------------------------\n   0: 28\n   1: 64\n")).toEqual(new Map([[0, [28]], [1, [64]]]));
  });
  it("vcpupin: virsh's error text is refused, not read as no vCPUs", () => {
    expect(() => parseVcpupin("error: failed to get domain 'x'")).toThrow(HostMismatch);
  });
  it.each(["virsh-emulatorpin-live.txt", "virsh-q-emulatorpin-live.txt"])("emulatorpin: %s", (file) => {
    expect(parseEmulatorpin(fixture(file))).toEqual([1]);
  });
  it("emulatorpin: a reserve of two cores", () => {
    expect(parseEmulatorpin("emulator: CPU Affinity\n----------------------------------\n       *: 16-17,52-53\n")).toEqual([16, 17, 52, 53]);
    expect(parseEmulatorpin("16-17,52-53\n")).toEqual([16, 17, 52, 53]);
    expect(() => parseEmulatorpin("emulator: CPU Affinity\n")).toThrow(HostMismatch);
  });
  it.each(["virsh-numatune-live.txt", "virsh-q-numatune-live.txt"])("numatune: %s", (file) => {
    expect(parseNumatune(fixture(file))).toEqual({ mode: "strict", nodeset: [0] });
  });
  it("numatune: interleaved over nodes, and a domain without a nodeset", () => {
    expect(parseNumatune("numa_mode      : interleave\nnuma_nodeset   : 0-1\n")).toEqual({ mode: "interleave", nodeset: [0, 1] });
    expect(parseNumatune("numa_mode      : strict\nnuma_nodeset   : \n")).toEqual({ mode: "strict", nodeset: null });
  });
});

describe("the reference host's state against the single stack's plan", () => {
  const settings = referenceSingle().settings();

  it("in sync: no difference", () => {
    const state = parseHostState(fixture("numa-01-in-sync.state.txt"));
    expect(state.domains.size).toBe(4);
    expect(state.hugepages.get("1/2048")).toBe(0);
    expect(hostDrift(settings, state)).toEqual({ differences: [], notes: [] });
  });

  it("drifted: one line per difference, naming host, setting or domain, expected and live", () => {
    const { differences } = hostDrift(settings, parseHostState(fixture("numa-01-drifted.state.txt")));
    expect(differences).toEqual([
      "host numa-01: kernel command line nohz_full: expected 0-15,18-33,36-51,54-69, live 0-15,36-51",
      "host numa-01: kernel command line irqaffinity: expected 16-17,34-35,52-53,70-71, live (absent)",
      "host numa-01: isolated threads (/sys/devices/system/cpu/isolated): expected 0-15,18-33,36-51,54-69, live 0-15,18-33",
      "host numa-01: node 1 2M huge pages: expected 0, live 512",
      "host numa-01: governor on threads 4,40: expected performance, live powersave",
      "host numa-01: domain k3s-server-tasks numatune: expected strict 1, live interleave 0-1",
      "host numa-01: domain k3s-worker-data emulatorpin: expected 34-35,70-71, live 34-35",
      "host numa-01: domain k3s-worker-slm vCPU 3: expected thread 61, live 26",
      "host numa-01: domain k3s-worker-slm-heavy: expected running, live shut off (live pins cannot be read)",
    ]);
  });

  it("tuned mode compares the lists tuned wrote as sets, and not /sys/.../isolated", () => {
    const tuned = referenceSingle().settings({ isolation: "tuned" });
    const live = fixture("numa-01-in-sync.state.txt").replace(/nohz_full=\S+/, "nohz_full=0-15,36-51,18-33,54-69");
    expect(hostDrift(tuned, parseHostState(live)).differences).toEqual([]);
  });

  it("a thread without cpufreq has no governor to compare: a note, not a difference", () => {
    const live = fixture("numa-01-in-sync.state.txt").replace("@@ governor 0\nperformance", "@@ governor 0\n@@ absent");
    expect(hostDrift(settings, parseHostState(live))).toEqual({ differences: [], notes: ["host numa-01: no cpufreq on threads 0: no governor to compare there"] });
  });

  it("a domain virsh does not know is reported with virsh's reason", () => {
    const live = fixture("numa-01-in-sync.state.txt").replace(/@@ domstate k3s-worker-slm\nrunning/, "@@ domstate k3s-worker-slm\n@@ error error: failed to get domain 'k3s-worker-slm'");
    const { differences } = hostDrift(settings, parseHostState(live));
    expect(differences).toEqual(["host numa-01: domain k3s-worker-slm: expected running, live not defined (error: failed to get domain 'k3s-worker-slm')"]);
  });

  it("output that is not the state script's is refused", () => {
    expect(() => parseHostState("Permission denied (publickey).\n")).toThrow(/before the first section/);
  });
});

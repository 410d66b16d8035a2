// The capacity check against the kubelet's own configuration: for random model sets on the
// shipped stacks' SLM VMs, whatever checkCapacity accepts fits what the rendered
// KubeletConfiguration (k3s/kubelet-config.ts, the file the kubelet reads) leaves allocatable, and
// whatever it refuses does not. Independent of capacity.ts's arithmetic: allocatable is read back
// from the configuration's reservedSystemCPUs, systemReserved, kubeReserved and evictionHard.
import fc from "fast-check";
import { parseCpuset } from "../../topology/cpuset";
import { kubeletConfiguration } from "../../k3s/kubelet-config";
import { checkCapacity } from "../../slm/capacity";
import { memoryEstimate, weightsBytes } from "../../slm/memory";
import type { ModelSpec } from "../../slm/model-spec";
import { LAYOUT_NAMES, defaultConfig, slmVms } from "./helpers";

const mib = (q: string) => {
  const m = /^(\d+)Mi$/.exec(q);
  if (!m) throw new Error(`not a Mi quantity: ${q}`);
  return Number(m[1]);
};

describe("capacity check vs the kubelet configuration (property)", () => {
  it.each(LAYOUT_NAMES)("%s: accepted iff every VM's requests fit the kubelet's allocatable", (layout) => {
    const base = defaultConfig(layout).models;
    const vms = slmVms(layout);
    const allocatable = new Map(
      vms.map((v) => {
        const k = kubeletConfiguration(v.placement, v.role) as Record<string, any>;
        const memoryMiB = Math.floor(v.placement.memoryKiB / 1024);
        const reserved = mib(k.systemReserved.memory) + mib(k.kubeReserved.memory) + mib(k.evictionHard["memory.available"]);
        return [
          v.placement.name,
          { cpu: v.placement.vcpus - parseCpuset(k.reservedSystemCPUs).length, mib: memoryMiB - Math.ceil(memoryMiB / 64) - reserved, t: v.placement.topology.threads, diskMiB: (v.stagingGiB ?? Infinity) * 1024 },
        ];
      }),
    );
    const seen = { accepted: 0, refused: 0 };
    const modelArb = fc.record({ vmIndex: fc.nat(vms.length - 1), cores: fc.integer({ min: 1, max: 16 }), slots: fc.integer({ min: 1, max: 8 }) });
    fc.assert(
      fc.property(fc.array(modelArb, { minLength: 1, maxLength: base.length }), (picks) => {
        const models: ModelSpec[] = picks.map((p, i) => ({ ...base[i], vm: vms[p.vmIndex].placement.name, cores: p.cores, parallelSlots: p.slots }));
        const fits = [...allocatable].every(([vm, a]) => {
          const mine = models.filter((m) => m.vm === vm);
          if (mine.length === 0) return true;
          const cpu = mine.reduce((s, m) => s + m.cores * a.t, 0) + 2;
          const mem = mine.reduce((s, m) => s + memoryEstimate(m).totalMiB, 0) + 4096;
          // The files, and one more of the largest while a new version downloads.
          const files = mine.map((m) => Math.ceil(weightsBytes(m) / 2 ** 20));
          const disk = files.reduce((x, y) => x + y, 0) + Math.max(...files);
          return cpu <= a.cpu && mem <= a.mib && disk <= a.diskMiB;
        });
        let accepted = true;
        try {
          checkCapacity(models, vms);
        } catch {
          accepted = false;
        }
        seen[accepted ? "accepted" : "refused"]++;
        return accepted === fits;
      }),
      { numRuns: 300 },
    );
    // Both sides of the boundary were exercised.
    expect(seen.accepted).toBeGreaterThan(10);
    expect(seen.refused).toBeGreaterThan(10);
  });
});

// Does each VM hold its models? What a k8s node can give pods is its allocatable: capacity minus
// the kubelet's reserve (k3s/kubelet-config.ts, the same functions the kubelet's file is made
// from), and the scheduler places a pod only where the requests of every pod on the node fit. The
// pool checks this at preview time, so that a layout that cannot run is refused with the numbers
// instead of leaving a pod Pending after `up`.
//
// Per VM:
//   allocatable CPU    = vCPUs - the threads of the first core (reservedSystemCPUs)
//   allocatable memory = guest memory - guest kernel's page map (1/64: a 64-byte struct page per
//                        4 KiB page, outside MemTotal) - systemReserved - kubeReserved - eviction
//   needed             = sum over its models (cores x threads per core, memoryEstimate)
//                        + the Temporal worker DaemonSet's requests (2 CPU / 4 GiB, docs/reference-layouts.md)
import { firstCoreVcpus, reservedMemoryMiB } from "../k3s/kubelet-config";
import { TEMPORAL_WORKER_REQUESTS } from "../platform/temporal-worker";
import type { VmPlacement } from "../topology/placement";

import { memoryEstimate, weightsBytes } from "./memory";
import { ModelSpec, SLM_CONFIG_KEY } from "./model-spec";
import { DoesNotFit, InputError } from "../common/user-error";

/** A VM the pool may put models on, as the plan placed it, and its K3s role. */
export interface SlmVm {
  placement: VmPlacement;
  role: "server" | "agent";
  /** Size of its staging disk (/data/local), GiB, when known: its models' files must fit on it. */
  stagingGiB?: number;
}

/** What else runs on every worker and counts against its allocatable (requests). */
export interface NodeNeighbour {
  name: string;
  cpu: number;
  memoryMiB: number;
}

/** The Temporal worker DaemonSet beside the models, on every SLM k8s node. */
export const TEMPORAL_WORKER: NodeNeighbour = { name: "Temporal worker", cpu: TEMPORAL_WORKER_REQUESTS.cpus, memoryMiB: TEMPORAL_WORKER_REQUESTS.memoryMiB };

export interface VmCapacity {
  vm: string;
  threadsPerCore: number;
  vcpus: number;
  reservedCpus: number;
  allocatableCpu: number;
  memoryMiB: number;
  guestKernelMiB: number;
  reservedMiB: number;
  allocatableMiB: number;
}

export function vmCapacity(vm: SlmVm): VmCapacity {
  const p = vm.placement;
  const reservedCpus = firstCoreVcpus(p).length;
  const memoryMiB = Math.floor(p.memoryKiB / 1024);
  const r = reservedMemoryMiB(memoryMiB, vm.role);
  const guestKernelMiB = Math.ceil(memoryMiB / 64);
  const reservedMiB = r.system + r.kube + r.eviction;
  return {
    vm: p.name,
    threadsPerCore: p.topology.threads,
    vcpus: p.vcpus,
    reservedCpus,
    allocatableCpu: p.vcpus - reservedCpus,
    memoryMiB,
    guestKernelMiB,
    reservedMiB,
    allocatableMiB: memoryMiB - guestKernelMiB - reservedMiB,
  };
}

/** A model's GGUF on the staging disk, MiB: its weights (slm/memory.ts). */
export function stagingFileMiB(model: Pick<ModelSpec, "parametersBillions" | "quantisation">): number {
  return Math.ceil(weightsBytes(model) / 2 ** 20);
}

export interface VmFit {
  capacity: VmCapacity;
  models: { name: string; cpu: number; memoryMiB: number }[];
  neededCpu: number;
  neededMiB: number;
}

/**
 * Every model's VM is one of the pool's, strict on a NUMA node (a floating VM's memory is
 * interleaved over nodes: never the hot path), and each VM's models plus its neighbours fit its
 * allocatable CPU and memory. Returns the fit of every VM with models; throws one line otherwise.
 */
export function checkCapacity(models: ModelSpec[], vms: SlmVm[], neighbours: NodeNeighbour[] = [TEMPORAL_WORKER], key = SLM_CONFIG_KEY): VmFit[] {
  const byName = new Map(vms.map((v) => [v.placement.name, v]));
  models.forEach((m, i) => {
    const vm = byName.get(m.vm);
    if (!vm) throw new InputError(`${key}.models[${i}].vm = ${JSON.stringify(m.vm)}: not an SLM VM of this stack; one of ${[...byName.keys()].join(", ") || "(none)"}`);
    if (vm.placement.node === null)
      throw new InputError(`${key}.models[${i}].vm = ${JSON.stringify(m.vm)}: a floating VM (memory interleaved over nodes) never serves a model; pick a strict VM`);
  });
  const fits: VmFit[] = [];
  const problems: string[] = [];
  for (const vm of vms) {
    const mine = models.filter((m) => m.vm === vm.placement.name);
    if (mine.length === 0) continue;
    const capacity = vmCapacity(vm);
    const rows = mine.map((m) => ({ name: m.name, cpu: m.cores * capacity.threadsPerCore, memoryMiB: memoryEstimate(m).totalMiB }));
    const otherCpu = neighbours.reduce((s, n) => s + n.cpu, 0);
    const otherMiB = neighbours.reduce((s, n) => s + n.memoryMiB, 0);
    const modelCpu = rows.reduce((s, r) => s + r.cpu, 0);
    const modelMiB = rows.reduce((s, r) => s + r.memoryMiB, 0);
    const fit: VmFit = { capacity, models: rows, neededCpu: modelCpu + otherCpu, neededMiB: modelMiB + otherMiB };
    fits.push(fit);
    const wrong: string[] = [];
    const others = (unit: string, pick: (n: NodeNeighbour) => number) => neighbours.map((n) => ` + ${n.name} ${pick(n)}${unit}`).join("");
    if (fit.neededCpu > capacity.allocatableCpu) {
      const freeCores = Math.max(0, Math.floor((capacity.allocatableCpu - otherCpu) / capacity.threadsPerCore));
      wrong.push(
        `CPU: models ${modelCpu} (${rows.map((r) => `${r.name} ${r.cpu}`).join(", ")})${others("", (n) => n.cpu)} = ${fit.neededCpu} CPUs > allocatable ${capacity.allocatableCpu} (${capacity.vcpus} vCPUs - ${capacity.reservedCpus} of the system core); at most ${freeCores} cores in all for its models`,
      );
    }
    if (fit.neededMiB > capacity.allocatableMiB) {
      const free = Math.max(0, capacity.allocatableMiB - otherMiB);
      wrong.push(
        `memory: models ${modelMiB} MiB (${rows.map((r) => `${r.name} ${r.memoryMiB}`).join(", ")})${others(" MiB", (n) => n.memoryMiB)} = ${fit.neededMiB} MiB > allocatable ${capacity.allocatableMiB} MiB (${capacity.memoryMiB} - guest kernel ${capacity.guestKernelMiB} - kubelet reserve ${capacity.reservedMiB}); at most ${free} MiB for its models`,
      );
    }
    if (vm.stagingGiB !== undefined) {
      // The files (GGUF = the weights, slm/memory.ts), plus room for the largest one's .part while a
      // new version downloads beside the old one.
      const files = mine.map(stagingFileMiB);
      const diskMiB = files.reduce((s, f) => s + f, 0) + Math.max(...files);
      if (diskMiB > vm.stagingGiB * 1024)
        wrong.push(`staging disk: model files ${files.reduce((s, f) => s + f, 0)} MiB + one download in progress ${Math.max(...files)} MiB = ${diskMiB} MiB > ${vm.stagingGiB * 1024} MiB (stagingGiB ${vm.stagingGiB})`);
    }
    if (wrong.length > 0) problems.push(`VM ${vm.placement.name} does not hold its models: ${wrong.join("; ")}`);
  }
  if (problems.length > 0) throw new DoesNotFit(`${key}.models: ${problems.join(" | ")}`);
  return fits;
}

/** A VM of the stack config as the pool needs it (stacks/config.ts StackVm has these fields). */
export interface StackVmRole {
  name: string;
  workload: string;
  k3sRole: "server" | "agent";
  /** disks.stagingGiB */
  stagingGiB?: number;
}

/** The pool's VMs: the planned VMs whose workload is `slm`, with their K3s role. */
export function slmVmsOf(placements: readonly VmPlacement[], vms: readonly StackVmRole[]): SlmVm[] {
  const byName = new Map(vms.map((v) => [v.name, v]));
  return placements.filter((p) => byName.get(p.name)?.workload === "slm").map((placement) => {
      const vm = byName.get(placement.name)!;
      return vm.stagingGiB === undefined ? { placement, role: vm.k3sRole } : { placement, role: vm.k3sRole, stagingGiB: vm.stagingGiB };
    });
}

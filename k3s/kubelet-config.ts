// The kubelet settings of a k8s node that is a pinned VM, derived from its placement: the guest's
// vCPUs are whole host cores (vCPUs k*T .. k*T+T-1 are the T threads of one core), so the kubelet
// can hand whole cores to Guaranteed pods and keep the first core for the OS and itself.
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import { formatCpuset } from "../topology/cpuset";
import type { VmPlacement } from "../topology/placement";
import { InputError } from "../common/user-error";

/** Where the agent's config.yaml points the kubelet (`kubelet-arg: config=...`). */
export const KUBELET_CONFIG_PATH = "/etc/rancher/k3s/kubelet.yaml";
/**
 * Where K3s copies the file `kubelet-arg: config=` names, at every agent start (pkg/daemons/agent
 * extractConfigArgs: into the kubelet's --config-dir, the managed kubelet.conf.d, as
 * 10-cli-config.conf). It never deletes the copy: when a node stops passing the file, the copy
 * keeps applying the old settings until something removes it.
 */
export const KUBELET_CONFIG_COPY = "/var/lib/rancher/k3s/agent/etc/kubelet.conf.d/10-cli-config.conf";
/** The kubelet's state files that remember a CPU / memory manager policy across restarts. */
export const KUBELET_STATE_FILES = ["/var/lib/kubelet/cpu_manager_state", "/var/lib/kubelet/memory_manager_state"] as const;

const MIB_PER_GIB = 1024;

/**
 * Memory kept out of pods on a guest of `memoryMiB`, in MiB. The reasoning (not a copy of a cloud's
 * table):
 * - system: the guest OS (systemd, journald, sshd, the guest agent) idles near 200 MiB whatever the
 *   size; what grows with memory is the kernel's own bookkeeping (page tables, slab, dentry and inode
 *   caches). 256 MiB + 1/128 of memory covers both.
 * - kube: the k3s agent process (kubelet, containerd, flannel, kube-proxy) needs ~300-400 MiB for a
 *   full node of pods, more with more pods, and the number of pods a node can hold grows with its
 *   memory: 384 MiB + 1/128 of memory. A server adds 1 GiB for the API server and the datastore,
 *   which run inside the k3s process, outside any pod.
 * - eviction (memory.available): the kubelet evicts before the kernel's OOM killer picks a victim;
 *   1/100 of memory, never below 256 MiB (a small node needs room for a pod to be evicted cleanly).
 * Examples: 24 GiB -> 448 + 576 (+1024 server) + 256; 118 GiB -> 1200 + 1328 + 1209.
 */
export function reservedMemoryMiB(memoryMiB: number, role: "server" | "agent"): { system: number; kube: number; eviction: number } {
  const perGiBShare = Math.ceil(memoryMiB / 128);
  return {
    system: 256 + perGiBShare,
    kube: 384 + perGiBShare + (role === "server" ? MIB_PER_GIB : 0),
    eviction: Math.max(256, Math.ceil(memoryMiB / 100)),
  };
}

/** The guest vCPUs of its first whole core: 0 .. threads-1 (the placement's vCPU order). */
export function firstCoreVcpus(placement: VmPlacement): number[] {
  const t = placement.topology.threads;
  if (!Number.isInteger(t) || t < 1 || placement.vcpus < 2 * t) {
    throw new InputError(`VM ${placement.name}: vcpus = ${placement.vcpus}: a static CPU manager needs at least two whole cores (${2 * t} vCPUs), one kept for the system`);
  }
  return Array.from({ length: t }, (_, i) => i);
}

/** A KubeletConfiguration (kubelet.config.k8s.io/v1beta1) as an object, field names as the API's JSON. */
export type KubeletConfiguration = Record<string, unknown> & { apiVersion: string; kind: string };

/**
 * The kubelet configuration of a pinned VM:
 * - cpuManagerPolicy static with full-pcpus-only: a Guaranteed pod with integer CPUs gets whole
 *   guest cores, and guest cores are whole host cores, so no two pods share a physical core;
 * - reservedSystemCPUs: the guest's first core, all its threads (the OS, kubelet and containerd
 *   stay there; a half-reserved core would hand its sibling to a pod);
 * - topology manager single-numa-node, scope pod: the whole pod aligned, not container by container;
 * - memoryManagerPolicy None, on purpose: the guest has exactly one NUMA cell (domain-xml.ts gives
 *   it one), whose memory the host already binds to one host node (numatune strict). Static would
 *   pin every Guaranteed pod to that same single cell, i.e. change nothing, while adding a
 *   reservedMemory that must equal kube + system reserved + eviction exactly or the kubelet does
 *   not start, and one more state file to lose on every resize.
 * - kubeReserved / systemReserved memory and evictionHard from reservedMemoryMiB; evictionHard lists
 *   the kubelet's other defaults too, because setting the map replaces them (mergeDefaultEvictionSettings
 *   is false by default).
 */
export function kubeletConfiguration(placement: VmPlacement, role: "server" | "agent"): KubeletConfiguration {
  const memoryMiB = Math.floor(placement.memoryKiB / 1024);
  const reserved = reservedMemoryMiB(memoryMiB, role);
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    cpuManagerPolicy: "static",
    cpuManagerPolicyOptions: { "full-pcpus-only": "true" },
    reservedSystemCPUs: formatCpuset(firstCoreVcpus(placement)),
    topologyManagerPolicy: "single-numa-node",
    topologyManagerScope: "pod",
    memoryManagerPolicy: "None",
    systemReserved: { memory: `${reserved.system}Mi` },
    kubeReserved: { memory: `${reserved.kube}Mi` },
    evictionHard: {
      "memory.available": `${reserved.eviction}Mi`,
      "nodefs.available": "10%",
      "nodefs.inodesFree": "5%",
      "imagefs.available": "15%",
    },
  };
}

/** The file the kubelet reads. */
export function renderKubeletConfig(config: KubeletConfiguration): string {
  return stringify(config, { lineWidth: 0 });
}

/**
 * What the kubelet's CPU and memory manager state files were written for: the policies, their
 * options, the reserved CPUs and the guest's vCPU count (a static CPU manager refuses to start when
 * the CPUs it sees differ from its checkpoint). When this changes on an existing node, the node is
 * drained and the state files removed before the kubelet restarts; other changes (labels, eviction
 * thresholds) restart it in place.
 */
export function kubeletPolicyDigest(config: KubeletConfiguration, vcpus: number): string {
  const policy = {
    cpuManagerPolicy: config.cpuManagerPolicy ?? null,
    cpuManagerPolicyOptions: config.cpuManagerPolicyOptions ?? null,
    reservedSystemCPUs: config.reservedSystemCPUs ?? null,
    memoryManagerPolicy: config.memoryManagerPolicy ?? null,
    reservedMemory: config.reservedMemory ?? null,
    vcpus,
  };
  return createHash("sha256").update(JSON.stringify(policy)).digest("hex").slice(0, 16);
}

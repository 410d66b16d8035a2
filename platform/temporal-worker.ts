// What the Temporal worker beside the models asks on every SLM k8s node (docs/reference-layouts.md:
// 2 CPUs, 4 GiB), requests == limits. The one owner of these numbers: TemporalCluster's DaemonSet
// asks them, and the models' capacity check (slm/capacity.ts) counts them against each SLM VM's
// allocatable. A file of its own so that the check does not import the manifests' types.
export const TEMPORAL_WORKER_REQUESTS = { cpus: 2, memoryMiB: 4096 } as const;

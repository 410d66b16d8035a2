// The llama.cpp server every model runs in, and its command line.
//
// The image is pinned in slm/llama-server-image.ts.
import type { ModelSpec } from "./model-spec";

/** The VM's staging disk as the containers see it ("write local, sweep remote"), shared with the
 * Temporal worker; on the VM it is the staging disk's pods' directory (guest/data-mounts.ts). */
export const STAGING_DIR = "/data/local";
/** Where the model files live on every SLM VM, and in the containers. */
export const MODELS_DIR = `${STAGING_DIR}/models`;
/** The server's port: the OpenAI-style API, /health and /metrics. */
export const SERVER_PORT = 8080;

/** The file a model is stored under: its name and the start of its sha256, so a new version is a new file. */
export function modelFileName(model: Pick<ModelSpec, "name" | "sha256">): string {
  return `${model.name}-${model.sha256.slice(0, 16)}.gguf`;
}

/** Every flag the pool passes (long names): the test checks each against the pinned server's parser. */
export const SERVER_FLAGS_USED = [
  "--model",
  "--alias",
  "--host",
  "--port",
  "--ctx-size",
  "--parallel",
  "--threads",
  "--threads-batch",
  "--load-mode",
  "--metrics",
  "--flash-attn",
] as const;

/**
 * The server's arguments for a model granted `cores` whole physical cores:
 * - --threads and --threads-batch = the cores granted, always explicit. llama.cpp's default count
 *   (common/common.cpp cpu_get_num_math -> cpu_get_num_physical_cores, which counts the distinct
 *   /sys/devices/system/cpu/cpu<N>/topology/thread_siblings of every CPU; -1 means
 *   std::thread::hardware_concurrency) is the machine's, not the container's cgroup cpuset: in a pod pinned to 6 of a VM's 32 vCPUs it
 *   would start 16 threads on 6 CPUs; they spin-wait at every op's barrier for a thread that is
 *   descheduled, and throughput falls to a fraction. One thread per physical core, not per thread:
 *   decode is memory-bandwidth bound and two siblings share one core's FPUs and caches, so the
 *   second sibling adds contention, not tokens; batch (prompt) processing is given the same count so
 *   no thread of the pod ever waits for its sibling.
 * - --ctx-size = contextTokens x parallelSlots: the server's context is shared by its slots, so each
 *   slot gets contextTokens (and the KV cache is sized for all of them, slm/memory.ts).
 * - --load-mode mmap+mlock: the weights are memory-mapped and locked, so they stay resident (no
 *   page-out under a neighbour's pressure); IPC_LOCK in the container keeps the lock from being
 *   capped by RLIMIT_MEMLOCK. The locked pages are the file's page cache, not a second copy. (The
 *   pinned build has no --mlock: PR #28334 removed it; `mlock` alone would read the file into
 *   anonymous memory instead, PR #26135.)
 * - --flash-attn on: the attention scores are not materialised as a context x batch matrix, which
 *   keeps the compute buffer inside memory.ts's fixed margin at 25k-token contexts.
 * - --metrics: Prometheus text on /metrics for vmagent.
 */
export function serverArgs(model: ModelSpec): string[] {
  return [
    "--model", `${MODELS_DIR}/${modelFileName(model)}`,
    "--alias", model.name,
    "--host", "0.0.0.0",
    "--port", String(SERVER_PORT),
    "--ctx-size", String(model.contextTokens * model.parallelSlots),
    "--parallel", String(model.parallelSlots),
    "--threads", String(model.cores),
    "--threads-batch", String(model.cores),
    "--load-mode", "mmap+mlock",
    "--metrics",
    "--flash-attn", "on",
  ];
}

// The llama.cpp server every model runs in, and its command line.
//
// Image: ghcr.io/ggml-org/llama.cpp, the project's own registry; the CPU server variant is the tag
// `server-b<build>` (`server-cuda…`, `server-vulkan…` are the GPU builds). Built from
// .devops/cpu.Dockerfile: Ubuntu 24.04 with curl, the binary at /app/llama-server as entrypoint,
// GGML_CPU_ALL_VARIANTS (the best of AVX2/AVX-512/… is picked at run time, so Broadwell hosts
// work). The pool runs the image pinned by digest, never a moving tag; `numa-k3s:slm.image` changes it.
//
// The pin: tag server-b11176 (llama.cpp build b11176, commit f805c57), whose multi-arch index
// (linux/amd64, arm64, s390x) has the digest below. Where it was verified: a public deployment
// record in the code index (a Terraform variable that states it checked the tag against the
// ghcr.io registry API on 2026-09-25 and gives this index digest); ggml-org's own package pages in
// the search index list only CUDA tags with digests (e.g. server-cuda12-b9603). This machine has no
// registry access: before a first `up`, `docker buildx imagetools inspect
// ghcr.io/ggml-org/llama.cpp:server-b11176` must print this digest as the index's.
import type { ModelSpec } from "./model-spec";

/** The release this program's flags were checked for (test/fixtures/llama-server/server-flags.json
 * records its build number: a new tag needs the list re-read). */
export const LLAMA_SERVER_TAG = "server-b11176";
export const LLAMA_SERVER_REPOSITORY = "ghcr.io/ggml-org/llama.cpp";
/** The tag's multi-arch index digest. */
export const LLAMA_SERVER_DIGEST = "sha256:6257697a7f5d034b8fb499ddb07af3e250506352f94102054252a23f3b85e0af";
export const DEFAULT_LLAMA_SERVER_IMAGE = `${LLAMA_SERVER_REPOSITORY}:${LLAMA_SERVER_TAG}@${LLAMA_SERVER_DIGEST}`;
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

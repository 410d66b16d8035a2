// The llama.cpp server image every model runs, pinned.
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
/** The release this program's flags were checked for (test/fixtures/llama-server/server-flags.json
 * records its build number: a new tag needs the list re-read). */
export const LLAMA_SERVER_TAG = "server-b11176";
export const LLAMA_SERVER_REPOSITORY = "ghcr.io/ggml-org/llama.cpp";
/** The tag's multi-arch index digest. */
export const LLAMA_SERVER_DIGEST = "sha256:6257697a7f5d034b8fb499ddb07af3e250506352f94102054252a23f3b85e0af";
export const DEFAULT_LLAMA_SERVER_IMAGE = `${LLAMA_SERVER_REPOSITORY}:${LLAMA_SERVER_TAG}@${LLAMA_SERVER_DIGEST}`;

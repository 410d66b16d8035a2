// The memory a llama.cpp server needs, computed, not guessed. With --load-mode mmap+mlock every byte of the
// weights stays resident, so the container's limit must hold all of it or the pod is OOM-killed
// while loading.
//
//   weights  = parameters x bits-per-weight / 8                       (slm/quantisation.ts)
//   KV cache = 2 x layers x context x slots x kvHeads x headDim x bytesPerElement
//   request  = weights + KV cache + COMPUTE_MARGIN_MIB, rounded up to MiB
//
// The KV formula is the size of llama.cpp's K and V tensors: the llama_kv_cache constructor
// (src/llama-kv-cache.cpp, read at commit 3514e9f6e795 in the code index) creates, for every layer
// with a KV cache, `cache_k_l<i>` and `cache_v_l<i>` of n_embd_k_gqa x kv_size x n_stream elements
// of type_k / type_v, n_embd_k_gqa being the layer's K/V heads x head dimension; the cells over all
// streams are the context, and the pool passes --ctx-size = contextTokens x parallelSlots (the
// server shares its context among its slots). kv_size is padded to a multiple of n_pad (256
// cells): under 1 % at these contexts, inside the margin. The default cache type is f16: 2 bytes.
import { architectureOf, ModelSpec } from "./model-spec";
import { BITS_PER_WEIGHT } from "./quantisation";

const MIB = 1024 * 1024;
/** f16, llama.cpp's default --cache-type-k / --cache-type-v. */
export const KV_BYTES_PER_ELEMENT = 2;
/**
 * Fixed room besides weights and KV cache: the CPU compute buffer (with --flash-attn on the
 * attention scores are never materialised as a context x batch matrix, so it stays at a few
 * hundred MiB for these model sizes), the tokenizer and vocabulary, the HTTP server's threads
 * and the process itself.
 */
export const COMPUTE_MARGIN_MIB = 1024;

export interface MemoryEstimate {
  weightsMiB: number;
  kvCacheMiB: number;
  marginMiB: number;
  /** What the container requests (= its limit). */
  totalMiB: number;
}

export function kvCacheBytes(model: Pick<ModelSpec, "architecture" | "contextTokens" | "parallelSlots">): number {
  const a = architectureOf(model);
  return 2 * a.layers * model.contextTokens * model.parallelSlots * a.kvHeads * a.headDim * KV_BYTES_PER_ELEMENT;
}

export function weightsBytes(model: Pick<ModelSpec, "parametersBillions" | "quantisation">): number {
  return (model.parametersBillions * 1e9 * BITS_PER_WEIGHT[model.quantisation]) / 8;
}

export function memoryEstimate(model: ModelSpec): MemoryEstimate {
  const weightsMiB = Math.ceil(weightsBytes(model) / MIB);
  const kvCacheMiB = Math.ceil(kvCacheBytes(model) / MIB);
  return { weightsMiB, kvCacheMiB, marginMiB: COMPUTE_MARGIN_MIB, totalMiB: weightsMiB + kvCacheMiB + COMPUTE_MARGIN_MIB };
}

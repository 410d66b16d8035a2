// Bits per weight of the GGUF quantisations a model may be served in, for the memory request.
// Pure block types from ggml's block layouts (ggml/src/ggml-common.h: a block of QK weights stored
// in so many bytes): Q8_0 = 32 weights in 34 bytes (32 int8 + one f16 scale) = 8.5 bpw; Q4_0 = 32 in
// 18 = 4.5; Q6_K = 256 in 210 = 6.5625; Q5_K = 256 in 176 = 5.5; Q4_K = 256 in 144 = 4.5.
// The _M mixes (llama-quantize) keep some tensors (half of attn_v and ffn_down) in Q6_K, so their
// average lies between the base type and Q6_K: the request takes Q6_K's 6.5625 as the bound, which
// over-asks by at most ~1.5 bpw rather than under-asking and being OOM-killed with the model locked.

export const QUANTISATIONS = ["F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0"] as const;
export type Quantisation = (typeof QUANTISATIONS)[number];

export const BITS_PER_WEIGHT: Record<Quantisation, number> = {
  F16: 16,
  BF16: 16,
  Q8_0: 8.5,
  Q6_K: 6.5625,
  // Upper bound: Q5_K (5.5) with a share of Q6_K tensors.
  Q5_K_M: 6.5625,
  // Upper bound: Q4_K (4.5) with a share of Q6_K tensors.
  Q4_K_M: 6.5625,
  Q4_0: 4.5,
};

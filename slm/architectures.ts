// The attention shape of the finance ensemble's models (docs/reference-layouts.md), which the KV cache's size
// depends on: layers, KV heads (grouped-query attention keeps fewer K/V heads than query heads),
// head dimension, and the context the model was trained for. Facts copied from each model's
// Hugging Face config.json (num_hidden_layers, num_key_value_heads, head_dim or hidden_size /
// num_attention_heads, max_position_embeddings); a model outside this table gives its numbers
// in its own `architecture` input.

export interface Architecture {
  /** Transformer blocks, each with its own K and V cache. */
  layers: number;
  /** K/V heads per layer (= attention heads without GQA). */
  kvHeads: number;
  /** Elements per head. */
  headDim: number;
  /** Tokens the model was trained for: a larger context per slot is refused. */
  maxContextTokens: number;
  /** Where the numbers come from. */
  source: string;
}

export const ARCHITECTURES = {
  // docs/reference-layouts.md's "Gemma 7B (9B)": Gemma 7B has 8.54 B parameters with its 256k-token embedding.
  "gemma-7b": { layers: 28, kvHeads: 16, headDim: 256, maxContextTokens: 8192, source: "huggingface.co/google/gemma-7b config.json" },
  "mistral-7b-v0.3": { layers: 32, kvHeads: 8, headDim: 128, maxContextTokens: 32768, source: "huggingface.co/mistralai/Mistral-7B-Instruct-v0.3 config.json" },
  "qwen2.5-7b": { layers: 28, kvHeads: 4, headDim: 128, maxContextTokens: 32768, source: "huggingface.co/Qwen/Qwen2.5-7B-Instruct config.json (hidden 3584 / 28 heads)" },
  // Gemma 3 keeps 5 of 6 layers on a 1024-token sliding window; llama.cpp sizes those layers' cache
  // to the window (unless --swa-full), so the full-context formula over-asks for this model.
  "gemma-3-4b": { layers: 34, kvHeads: 4, headDim: 256, maxContextTokens: 131072, source: "huggingface.co/google/gemma-3-4b-it config.json (text_config)" },
  // The 128k variant: the 4k one cannot hold the documents' 25k-token context.
  "phi-3-mini-128k": { layers: 32, kvHeads: 32, headDim: 96, maxContextTokens: 131072, source: "huggingface.co/microsoft/Phi-3-mini-128k-instruct config.json (hidden 3072 / 32 heads)" },
  // docs/reference-layouts.md's "Gemma 2B (2.5B)": Gemma 2B, 2.51 B parameters, multi-query attention.
  "gemma-2b": { layers: 18, kvHeads: 1, headDim: 256, maxContextTokens: 8192, source: "huggingface.co/google/gemma-2b config.json" },
  // docs/reference-layouts.md's "Qwen 2.5B", read as Qwen2.5-3B (3.09 B): the Qwen 2.5 release has no 2.5 B size.
  "qwen2.5-3b": { layers: 36, kvHeads: 2, headDim: 128, maxContextTokens: 32768, source: "huggingface.co/Qwen/Qwen2.5-3B-Instruct config.json (hidden 2048 / 16 heads)" },
} as const satisfies Record<string, Architecture>;

export type ArchitectureId = keyof typeof ARCHITECTURES;
export const ARCHITECTURE_IDS = Object.keys(ARCHITECTURES) as ArchitectureId[];

// The finance ensemble of docs/reference-layouts.md as data: 7 models, INT8 (GGUF Q8_0), context 25k tokens
// (capped at what a model was trained for), and where each layout runs them. Cores are sized to
// what the shipped stacks' VMs can give after the kubelet's reserved core and the Temporal
// worker's 2 CPUs (slm/capacity.ts refuses anything else):
//   mac-numa    k3s-slm-worker-1 17 cores -> 15 for models; k3s-slm-worker-2 14 -> 12
//   single      k3s-worker-slm-heavy 16 -> 14; k3s-worker-slm 4 -> 2
//   distributed k3s-worker-1 16 -> 14; k3s-worker-2 16 -> 14
// The documents' split: mac-numa worker 1 runs Gemma 7B, Mistral 7B, Gemma 4B and worker 2 Qwen 7B,
// Gemma 2B, Phi-3 Mini (the seventh, Qwen 2.5B, joins worker 2, which has the cores); distributed
// worker 1 runs Gemma 7B, Mistral 7B, Gemma 4B, Phi-3 Mini (8 threads = 4 cores each) and worker 2
// Qwen 7B (10 threads), Gemma 2B (11), Qwen 2.5B (11). `single` is not split in the documents: its
// heavy worker (socket 0 alone) takes the large models and the two mid-size ones, the light
// worker the two smallest.
// Weights: the documents weight the consensus by model and confidence without numbers; large
// models count 1.5, small 1.0, as a starting point users tune in `numa-k3s:slm.models[].weight`.
// Sources: the lake's `models` bucket (upload the GGUF there); sha256 is the user's to give, from
// the file itself: no checksum is invented here.
import type { Layout } from "../k3s/node-roles";
import type { ArchitectureId } from "./architectures";
import { SlmConfigError } from "./errors";
import { ModelInput, SLM_CONFIG_KEY, SlmConfig, parseSlmConfig } from "./model-spec";
import type { Quantisation } from "./quantisation";

export const DOCUMENTS_CONTEXT_TOKENS = 25000;

export interface EnsembleModel {
  name: string;
  /** What docs/reference-layouts.md calls it. */
  documentsName: string;
  architecture: ArchitectureId;
  parametersBillions: number;
  quantisation: Quantisation;
  contextTokens: number;
  parallelSlots: number;
  weight: number;
}

export const FINANCE_ENSEMBLE: EnsembleModel[] = [
  { name: "gemma-7b", documentsName: "Gemma 7B (9B)", architecture: "gemma-7b", parametersBillions: 8.54, quantisation: "Q8_0", contextTokens: 8192, parallelSlots: 1, weight: 1.5 },
  { name: "mistral-7b", documentsName: "Mistral 7B (7.3B)", architecture: "mistral-7b-v0.3", parametersBillions: 7.25, quantisation: "Q8_0", contextTokens: DOCUMENTS_CONTEXT_TOKENS, parallelSlots: 1, weight: 1.5 },
  { name: "qwen-7b", documentsName: "Qwen 7B", architecture: "qwen2.5-7b", parametersBillions: 7.62, quantisation: "Q8_0", contextTokens: DOCUMENTS_CONTEXT_TOKENS, parallelSlots: 1, weight: 1.5 },
  // Gemma 3 4B's 4.3 B include its vision tower; a text-only GGUF is smaller (over-asks a little).
  { name: "gemma-4b", documentsName: "Gemma 4B", architecture: "gemma-3-4b", parametersBillions: 4.3, quantisation: "Q8_0", contextTokens: DOCUMENTS_CONTEXT_TOKENS, parallelSlots: 1, weight: 1.0 },
  { name: "phi-3-mini", documentsName: "Phi-3 Mini (3.8B)", architecture: "phi-3-mini-128k", parametersBillions: 3.82, quantisation: "Q8_0", contextTokens: DOCUMENTS_CONTEXT_TOKENS, parallelSlots: 1, weight: 1.0 },
  { name: "gemma-2b", documentsName: "Gemma 2B (2.5B)", architecture: "gemma-2b", parametersBillions: 2.51, quantisation: "Q8_0", contextTokens: 8192, parallelSlots: 1, weight: 1.0 },
  { name: "qwen-3b", documentsName: "Qwen 2.5B", architecture: "qwen2.5-3b", parametersBillions: 3.09, quantisation: "Q8_0", contextTokens: DOCUMENTS_CONTEXT_TOKENS, parallelSlots: 1, weight: 1.0 },
];

/** Per layout: model -> [VM, cores]. */
export const ENSEMBLE_PLACEMENT: Record<Layout, Record<string, [vm: string, cores: number]>> = {
  "mac-numa": {
    "gemma-7b": ["k3s-slm-worker-1", 6],
    "mistral-7b": ["k3s-slm-worker-1", 6],
    "gemma-4b": ["k3s-slm-worker-1", 3],
    "qwen-7b": ["k3s-slm-worker-2", 5],
    "phi-3-mini": ["k3s-slm-worker-2", 3],
    "gemma-2b": ["k3s-slm-worker-2", 2],
    "qwen-3b": ["k3s-slm-worker-2", 2],
  },
  single: {
    "gemma-7b": ["k3s-worker-slm-heavy", 4],
    "mistral-7b": ["k3s-worker-slm-heavy", 3],
    "qwen-7b": ["k3s-worker-slm-heavy", 3],
    "gemma-4b": ["k3s-worker-slm-heavy", 2],
    "phi-3-mini": ["k3s-worker-slm-heavy", 2],
    "gemma-2b": ["k3s-worker-slm", 1],
    "qwen-3b": ["k3s-worker-slm", 1],
  },
  distributed: {
    "gemma-7b": ["k3s-worker-1", 4],
    "mistral-7b": ["k3s-worker-1", 4],
    "gemma-4b": ["k3s-worker-1", 3],
    "phi-3-mini": ["k3s-worker-1", 3],
    "qwen-7b": ["k3s-worker-2", 6],
    "gemma-2b": ["k3s-worker-2", 4],
    "qwen-3b": ["k3s-worker-2", 4],
  },
};

/** Where a default model's GGUF is expected in the lake. */
export function defaultSource(model: Pick<EnsembleModel, "name" | "quantisation">): string {
  return `s3://models/finance/${model.name}.${model.quantisation}.gguf`;
}

/**
 * The layout's default model list, each with its sha256 from `sha256ByModel` (config
 * `numa-k3s:slm.checksums`); a missing checksum is refused naming the key to set.
 */
export function defaultModels(layout: Layout, sha256ByModel: Record<string, string>, key = SLM_CONFIG_KEY): ModelInput[] {
  const missing = FINANCE_ENSEMBLE.filter((m) => sha256ByModel[m.name] === undefined).map((m) => m.name);
  if (missing.length > 0)
    throw new SlmConfigError(
      `${key}.checksums: no sha256 for ${missing.join(", ")}: the default finance ensemble reads each GGUF from ${defaultSource({ name: "<model>", quantisation: "Q8_0" })}; set ${key}.checksums.<model> to its sha256sum (or list ${key}.models yourself)`,
    );
  return FINANCE_ENSEMBLE.map((m) => {
    const [vm, cores] = ENSEMBLE_PLACEMENT[layout][m.name];
    return {
      name: m.name,
      source: defaultSource(m),
      sha256: sha256ByModel[m.name],
      parametersBillions: m.parametersBillions,
      quantisation: m.quantisation,
      architecture: m.architecture,
      contextTokens: m.contextTokens,
      parallelSlots: m.parallelSlots,
      vm,
      cores,
      weight: m.weight,
    };
  });
}

/**
 * `numa-k3s:slm` as a user writes it: `models` (the whole list), or `checksums` (model -> sha256)
 * to take the layout's default ensemble. Returns the input of SlmConfigSchema.
 */
export function withDefaultModels(raw: unknown, layout: Layout, key = SLM_CONFIG_KEY): unknown {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new SlmConfigError(`${key} = ${JSON.stringify(raw)}: must be an object { image, models | checksums, lake }`);
  const { checksums, ...rest } = raw as Record<string, unknown>;
  if (rest.models !== undefined) {
    if (checksums !== undefined) throw new SlmConfigError(`${key}.checksums: only for the default ensemble; with ${key}.models give each model its sha256`);
    return rest;
  }
  if (checksums === undefined || checksums === null || typeof checksums !== "object" || Array.isArray(checksums))
    throw new SlmConfigError(`${key}.checksums = ${JSON.stringify(checksums)}: must map each model of the default ensemble (${FINANCE_ENSEMBLE.map((m) => m.name).join(", ")}) to its sha256, or set ${key}.models`);
  const known = new Set(FINANCE_ENSEMBLE.map((m) => m.name));
  const unknown = Object.keys(checksums).find((k) => !known.has(k));
  if (unknown) throw new SlmConfigError(`${key}.checksums.${unknown}: not a model of the default ensemble; one of ${[...known].join(", ")}`);
  return { ...rest, models: defaultModels(layout, checksums as Record<string, string>, key) };
}

/** `numa-k3s:slm` as the stack config holds it -> the pool's config, or one SlmConfigError line. */
export function slmConfigOf(raw: unknown, layout: Layout, key = SLM_CONFIG_KEY): SlmConfig {
  return parseSlmConfig(withDefaultModels(raw, layout, key), key);
}

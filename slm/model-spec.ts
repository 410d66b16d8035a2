// The SLM pool's input, as stack config holds it (`numa-k3s:slm`): the llama.cpp image, where
// the lake's `models` bucket answers, and one entry per model. zod `.strict()` schemas, so that a
// misspelt key is refused instead of ignored; every problem is one line naming the key, the
// value and what fits.
import { z } from "zod";
import { problemLine } from "../common/config-errors";
import { positiveNumber, wholeNumber, wholeNumberIn } from "../common/config-values";
import { ARCHITECTURES, ARCHITECTURE_IDS, Architecture, ArchitectureId } from "./architectures";

import { DEFAULT_LLAMA_SERVER_IMAGE } from "./llama-server-image";
import { QUANTISATIONS } from "./quantisation";
import { InputError } from "../common/user-error";

/** Where the errors say the input lives. */
export const SLM_CONFIG_KEY = "numa-k3s:slm";

/** A DNS-1035 label short enough for `slm-<name>` (Deployment, Service) to stay within 63 characters. */
const MODEL_NAME = /^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/;
export const SHA256 = /^[0-9a-f]{64}$/;
export const SHA256_HINT = "must be the file's sha256, 64 lowercase hex digits (sha256sum FILE)";
/** https://host/path, or s3://models/key (the lake's `models` bucket, DataLake.ts). */
const HTTPS_URL = /^https:\/\/[A-Za-z0-9.-]+(:\d+)?\/\S+$/;
const S3_MODELS_URL = /^s3:\/\/models\/[A-Za-z0-9._\/-]+$/;
/** An image pinned by digest: repository, optional tag, @sha256:64 hex. */
export const PINNED_IMAGE = /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$/;

export const ArchitectureInputSchema = z
  .object({
    layers: wholeNumber(1),
    kvHeads: wholeNumber(1),
    headDim: wholeNumber(1),
    maxContextTokens: wholeNumber(1),
  })
  .strict();

export const ModelInputSchema = z
  .object({
    /** Deployment, Service and ensemble key: `slm-<name>`; a DNS label, at most 40 characters. */
    name: z.string().regex(MODEL_NAME, "must be a lowercase DNS label (a-z, 0-9, -), at most 40 characters, starting with a letter"),
    /** The GGUF: an https URL, or s3://models/<key> in the lake's models bucket. */
    source: z.string().refine((s) => HTTPS_URL.test(s) || S3_MODELS_URL.test(s), "must be an https:// URL or s3://models/<key> (the lake's models bucket)"),
    /** The GGUF's sha256 (64 lowercase hex): the init container refuses any other file. */
    sha256: z.string().regex(SHA256, SHA256_HINT),
    /** Parameter count in billions (7.25 for Mistral 7B). */
    parametersBillions: positiveNumber(),
    quantisation: z.enum(QUANTISATIONS, { error: `must be one of ${QUANTISATIONS.join(", ")}` }),
    /** A known architecture (slm/architectures.ts) or its numbers. */
    architecture: z.union([z.enum(ARCHITECTURE_IDS as [ArchitectureId, ...ArchitectureId[]]), ArchitectureInputSchema], {
      error: `must be one of ${ARCHITECTURE_IDS.join(", ")}, or { layers, kvHeads, headDim, maxContextTokens }`,
    }),
    /** Context tokens per slot (the server gets contextTokens x parallelSlots). */
    contextTokens: wholeNumber(512),
    /** Requests served at once, each with its own contextTokens of KV cache. */
    parallelSlots: wholeNumberIn(1, 64).default(1),
    /** The VM (= k8s node name) the server runs on. */
    vm: z.string().min(1),
    /** Whole physical cores granted to the server (CPU = cores x the VM's threads per core). */
    cores: wholeNumber(1),
    /** Ensemble weight in the consensus (relative; the workflow normalises). */
    weight: positiveNumber(),
  })
  .strict();
export type ModelInput = z.input<typeof ModelInputSchema>;
export type ModelSpec = z.output<typeof ModelInputSchema>;

/** Default name of the lake credentials Secret in the SLM namespace. */
export const LAKE_CREDENTIALS_SECRET = "slm-lake-credentials";

export const LakeSchema = z
  .object({
    /** S3 endpoint of the lake as pods reach it (path-style): DataLake's `endpoint`. */
    endpoint: z.string().regex(/^https?:\/\/[A-Za-z0-9.-]+(:\d+)?$/, "must be http(s)://host[:port] without a path"),
    /** Secret in the SLM namespace with keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the
     * DataLake consumers' convention); SlmWorkerPool creates it from its `lakeCredentials`. */
    credentialsSecret: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "must be a Secret name").default(LAKE_CREDENTIALS_SECRET),
    /** SigV4 region (MinIO accepts any; us-east-1 is its default). */
    region: z.string().min(1).default("us-east-1"),
  })
  .strict();

export const SlmConfigSchema = z
  .object({
    /** llama.cpp server image, pinned by digest; default the verified pin of slm/llama-server.ts. */
    image: z.string().regex(PINNED_IMAGE, "must be an image pinned by digest, e.g. ghcr.io/ggml-org/llama.cpp:server-b11176@sha256:<64 hex>").default(DEFAULT_LLAMA_SERVER_IMAGE),
    /** Needed when a model's source is s3://models/... */
    lake: LakeSchema.optional(),
    models: z.array(ModelInputSchema).min(1, "must list at least one model"),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.models.forEach((m, i) => {
      if (seen.has(m.name)) ctx.addIssue({ code: "custom", path: ["models", i, "name"], message: "is already another model's name" });
      seen.add(m.name);
      const arch = architectureOf(m);
      if (m.contextTokens > arch.maxContextTokens)
        ctx.addIssue({ code: "custom", path: ["models", i, "contextTokens"], message: `is more than the model was trained for: contextTokens <= ${arch.maxContextTokens}` });
      if (m.source.startsWith("s3://") && !cfg.lake)
        ctx.addIssue({ code: "custom", path: ["models", i, "source"], message: `is in the lake: ${SLM_CONFIG_KEY}.lake { endpoint } must be set (DataLake's endpoint)` });
    });
  });
export type SlmConfigInput = z.input<typeof SlmConfigSchema>;
export type SlmConfig = z.output<typeof SlmConfigSchema>;

/** The architecture numbers of a model: its own, or the table's. */
export function architectureOf(model: Pick<ModelSpec, "architecture">): Omit<Architecture, "source"> {
  return typeof model.architecture === "string" ? ARCHITECTURES[model.architecture] : model.architecture;
}

/** The pool's config, checked; a problem is an InputError of one line naming `key`. */
export function parseSlmConfig(raw: unknown, key = SLM_CONFIG_KEY): SlmConfig {
  const parsed = SlmConfigSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(problemLine({ file: "", prefix: key }, raw, parsed.error, SlmConfigSchema));
  return parsed.data;
}

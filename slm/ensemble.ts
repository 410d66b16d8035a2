// The finance ensemble of docs/reference-layouts.md as data: 7 models, INT8 (GGUF Q8_0), context
// 25k tokens (capped at what a model was trained for), and how they are spread over whatever SLM
// VMs a stack has. The documents split them by hand for their own VMs; a stack that renames a VM,
// adds one or runs on a host with other core counts must get a working spread without writing out
// seven models, so the spread is computed from the VMs' sizes (assignEnsemble), and a user changes
// one field of one model with `numa-k3s:slm.overrides.<model>.<field>`.
// Weights: the documents weight the consensus by model and confidence without numbers; large
// models count 1.5, small 1.0, as a starting point users tune (overrides.<model>.weight).
// Sources: the lake's `models` bucket (upload the GGUF there); sha256 is the user's to give, from
// the file itself: no checksum is invented here.
import { z } from "zod";
import type { ArchitectureId } from "./architectures";
import { NodeNeighbour, SlmVm, stagingFileMiB, vmCapacity } from "./capacity";

import { memoryEstimate } from "./memory";
import { nearest } from "../common/config-errors";
import { LakeSchema, ModelInputSchema, ModelSpec, SHA256, SHA256_HINT, SLM_CONFIG_KEY, SlmConfig, SlmConfigSchema, parseSlmConfig } from "./model-spec";
import type { Quantisation } from "./quantisation";
import { InputError } from "../common/user-error";

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

/** Where a default model's GGUF is expected in the lake. */
export function defaultSource(model: Pick<EnsembleModel, "name" | "quantisation">): string {
  return `s3://models/finance/${model.name}.${model.quantisation}.gguf`;
}

/** One field (or a few) of one default model, as `numa-k3s:slm.overrides.<model>` gives them. */
export const ModelOverrideSchema = ModelInputSchema.omit({ name: true, source: true, sha256: true }).partial().strict();
export type ModelOverride = z.output<typeof ModelOverrideSchema>;

/** A default model before it is given a VM and cores (an override may give either). */
export type UnplacedModel = Omit<ModelSpec, "vm" | "cores"> & { vm?: string; cores?: number };

/** The spread's search bound: far above what 7 models over 8 VMs need, far below a second. */
const SPREAD_STEPS = 100_000;

/** What one SLM VM can give its models: whole cores and MiB after the kubelet's reserve and the
 * neighbours every worker runs (the Temporal worker). */
interface ModelRoom {
  vm: string;
  cores: number;
  memoryMiB: number;
  /** The staging disk, when the stack gives one: the GGUFs plus one download in progress. */
  stagingMiB?: number;
}

function roomOf(vm: SlmVm, neighbours: readonly NodeNeighbour[]): ModelRoom {
  const c = vmCapacity(vm);
  const cpu = c.allocatableCpu - neighbours.reduce((sum, n) => sum + n.cpu, 0);
  return {
    vm: c.vm,
    cores: Math.max(0, Math.floor(cpu / c.threadsPerCore)),
    memoryMiB: c.allocatableMiB - neighbours.reduce((sum, n) => sum + n.memoryMiB, 0),
    stagingMiB: vm.stagingGiB === undefined ? undefined : vm.stagingGiB * 1024,
  };
}

/**
 * The default ensemble over the stack's strict SLM VMs (a floating VM never serves a model):
 * 1. a model whose override names a `vm` goes there;
 * 2. the others, largest memory first (then by name), each to the VM where the fuller of its
 *    load by cores (parameters per model core) and by memory would be least after adding it,
 *    among the VMs with a core and the memory left for it (ties: the VM listed first); where that
 *    leaves a later model without a VM, the search backs up and tries the next VM (depth first,
 *    at most SPREAD_STEPS steps: seven models over a few VMs take a handful);
 * 3. on each VM, the model cores not fixed by an override are split among its models in
 *    proportion to their parameters, one core each first, then one at a time to the model with
 *    the most parameters per core it has (ties by name).
 * When no spread fits, the greedy one is returned and checkCapacity refuses it with the numbers.
 */
export function assignEnsemble(models: readonly UnplacedModel[], vms: readonly SlmVm[], neighbours: readonly NodeNeighbour[], overrides: Record<string, ModelOverride>, key = SLM_CONFIG_KEY): ModelSpec[] {
  const strict = vms.filter((v) => v.placement.node !== null);
  if (strict.length === 0)
    throw new InputError(
      `${key}: the default ensemble needs an SLM VM strict on one NUMA node (a VM with workload: slm, numa: strict); this stack has ${vms.length === 0 ? "none" : `only floating ones (${vms.map((v) => v.placement.name).join(", ")})`}: add one, or set ${key}.models yourself`,
    );
  const rooms = strict.map((v) => roomOf(v, neighbours));
  const withOverrides: UnplacedModel[] = models.map((m) => ({ ...m, ...(overrides[m.name] ?? {}) }));
  const memory = new Map(withOverrides.map((m) => [m.name, memoryEstimate({ ...m, vm: "", cores: 1 }).totalMiB]));
  const onVm = new Map<string, UnplacedModel[]>(rooms.map((r) => [r.vm, []]));
  const load = (room: ModelRoom, extra: UnplacedModel) => {
    const mine = [...onVm.get(room.vm)!, extra];
    const byCores = mine.reduce((sum, m) => sum + m.parametersBillions, 0) / Math.max(room.cores, 1);
    const byMemory = mine.reduce((sum, m) => sum + memory.get(m.name)!, 0) / Math.max(room.memoryMiB, 1);
    return Math.max(byCores / totalParameters(withOverrides, rooms), byMemory);
  };
  const pinned = withOverrides.filter((m) => m.vm !== undefined);
  for (const m of pinned) {
    if (!onVm.has(m.vm!))
      throw new InputError(`${key}.overrides.${m.name}.vm = ${JSON.stringify(m.vm)}: not a strict SLM VM of this stack; one of ${rooms.map((r) => r.vm).join(", ")}`);
    onVm.get(m.vm!)!.push(m);
  }
  const free = withOverrides.filter((m) => m.vm === undefined).sort((a, b) => memory.get(b.name)! - memory.get(a.name)! || a.name.localeCompare(b.name));
  // Depth first over the models in that order, each VM tried from least to most loaded: the first
  // spread found is the greedy one whenever that fits, and another only when it does not.
  const fits = (room: ModelRoom, m: UnplacedModel) => {
    const mine = onVm.get(room.vm)!;
    const cores = mine.reduce((sum, o) => sum + (o.cores ?? 1), 0) + (m.cores ?? 1);
    const mib = mine.reduce((sum, o) => sum + memory.get(o.name)!, 0) + memory.get(m.name)!;
    const files = [...mine, m].map((o) => stagingFileMiB(o));
    const staged = files.reduce((sum, f) => sum + f, 0) + Math.max(...files);
    return cores <= room.cores && mib <= room.memoryMiB && (room.stagingMiB === undefined || staged <= room.stagingMiB);
  };
  let steps = 0;
  const spread = (i: number): boolean => {
    if (i === free.length) return true;
    if (++steps > SPREAD_STEPS) return false;
    const m = free[i];
    for (const room of [...rooms].sort((a, b) => load(a, m) - load(b, m)).filter((r) => fits(r, m))) {
      onVm.get(room.vm)!.push({ ...m, vm: room.vm });
      if (spread(i + 1)) return true;
      onVm.get(room.vm)!.pop();
    }
    return false;
  };
  if (!spread(0)) {
    // Nothing fits: the greedy spread, which checkCapacity then refuses with the numbers.
    for (const list of onVm.values()) list.splice(0, list.length, ...list.filter((m) => pinned.includes(m)));
    for (const m of free) {
      const open = rooms.filter((r) => onVm.get(r.vm)!.length < r.cores);
      const best = (open.length > 0 ? open : rooms).reduce((a, b) => (load(b, m) < load(a, m) ? b : a));
      onVm.get(best.vm)!.push({ ...m, vm: best.vm });
    }
  }
  const placed = new Map<string, ModelSpec>();
  for (const room of rooms) {
    const mine = onVm.get(room.vm)!;
    const fixed = mine.filter((m) => m.cores !== undefined);
    const split = mine.filter((m) => m.cores === undefined);
    const cores = new Map(split.map((m) => [m.name, 1]));
    let left = room.cores - fixed.reduce((sum, m) => sum + m.cores!, 0) - split.length;
    while (left > 0 && split.length > 0) {
      const next = split.reduce((a, b) => {
        const ra = a.parametersBillions / cores.get(a.name)!;
        const rb = b.parametersBillions / cores.get(b.name)!;
        return rb > ra || (rb === ra && b.name < a.name) ? b : a;
      });
      cores.set(next.name, cores.get(next.name)! + 1);
      left -= 1;
    }
    for (const m of mine) placed.set(m.name, { ...m, vm: room.vm, cores: m.cores ?? cores.get(m.name)! });
  }
  return models.map((m) => placed.get(m.name)!);
}

/** Parameters per model core over the whole pool: the unit that makes a VM's core load
 * comparable with its memory load (both 1.0 when the pool is exactly full). */
function totalParameters(models: readonly UnplacedModel[], rooms: readonly ModelRoom[]): number {
  return models.reduce((sum, m) => sum + m.parametersBillions, 0) / Math.max(1, rooms.reduce((sum, r) => sum + r.cores, 0));
}

/** The default ensemble as model inputs, each with its sha256 from `sha256ByModel`
 * (`numa-k3s:slm.checksums`), before it is spread over the VMs. */
export function defaultModels(sha256ByModel: Record<string, string>, key = SLM_CONFIG_KEY): UnplacedModel[] {
  const missing = FINANCE_ENSEMBLE.filter((m) => sha256ByModel[m.name] === undefined).map((m) => m.name);
  if (missing.length > 0)
    throw new InputError(
      `${key}.checksums: no sha256 for ${missing.join(", ")}: the default finance ensemble reads each GGUF from ${defaultSource({ name: "<model>", quantisation: "Q8_0" })}; set ${key}.checksums.<model> to its sha256sum (or list ${key}.models yourself)`,
    );
  return FINANCE_ENSEMBLE.map((m) => ({
    name: m.name,
    source: defaultSource(m),
    sha256: sha256ByModel[m.name],
    parametersBillions: m.parametersBillions,
    quantisation: m.quantisation,
    architecture: m.architecture,
    contextTokens: m.contextTokens,
    parallelSlots: m.parallelSlots,
    weight: m.weight,
  }));
}

/**
 * `numa-k3s:slm` as a user writes it: `checksums` (model -> sha256) for the default ensemble,
 * spread over the SLM VMs, with `overrides.<model>.<field>` for what should differ; or `models`,
 * the whole list, to swap or add models. Checked with the stack's config, so a misspelt key is
 * refused (with its did-you-mean) before anything is planned.
 */
const ENSEMBLE_NAMES = FINANCE_ENSEMBLE.map((m) => m.name);
export const SlmSectionSchema = z
  .object({
    image: SlmConfigSchema.shape.image.optional(),
    lake: LakeSchema.optional(),
    /** The whole model list (slm/model-spec.ts): swaps the default ensemble out. */
    models: z.array(ModelInputSchema).min(1, "must list at least one model").optional(),
    /** The default ensemble's GGUF sha256s, one per model. */
    checksums: z.record(z.string(), z.string().regex(SHA256, SHA256_HINT)).optional(),
    /** A field or two of a default model: `overrides.gemma-7b.cores: 6`, `.vm`, `.quantisation`... */
    overrides: z.record(z.string(), ModelOverrideSchema).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.models && s.checksums) ctx.addIssue({ code: "custom", path: ["checksums"], message: "only for the default ensemble; with models give each model its sha256" });
    if (s.models && s.overrides) ctx.addIssue({ code: "custom", path: ["overrides"], message: "only for the default ensemble; with models write the field in the model's entry" });
    for (const section of ["checksums", "overrides"] as const)
      for (const name of Object.keys(s[section] ?? {}))
        if (!ENSEMBLE_NAMES.includes(name)) {
          const near = nearest(name, ENSEMBLE_NAMES);
          ctx.addIssue({ code: "custom", path: [section, name], message: `not a model of the default ensemble${near ? `; did you mean ${near}?` : ""} (its models: ${ENSEMBLE_NAMES.join(", ")})` });
        }
  });
export type SlmSection = z.output<typeof SlmSectionSchema>;

/**
 * The pool's config from the stack's `numa-k3s:slm` (parsed by SlmSectionSchema with the stack),
 * the lake the models are read from, and the SLM VMs as the plan placed them.
 */
export function slmConfigOf(section: SlmSection | undefined, lake: z.input<typeof LakeSchema>, vms: readonly SlmVm[], neighbours: readonly NodeNeighbour[], key = SLM_CONFIG_KEY): SlmConfig {
  const s = section ?? {};
  const models = s.models ?? assignEnsemble(defaultModels(s.checksums ?? {}, key), vms, neighbours, s.overrides ?? {}, key);
  return parseSlmConfig({ image: s.image, lake: { ...lake, ...(s.lake ?? {}) }, models }, key);
}

/**
 * Why the default ensemble does not fit the stack's SLM VMs, as one line a user can act on: what
 * the seven models need in all against what the VMs give them after the kubelet's reserve and the
 * neighbours; the VMs to grow are the user's own keys, never the generated model list.
 */
export function ensembleShortfall(models: readonly ModelSpec[], vms: readonly SlmVm[], neighbours: readonly NodeNeighbour[], key = SLM_CONFIG_KEY): string {
  const rooms = vms.filter((v) => v.placement.node !== null).map((v) => roomOf(v, neighbours));
  const needMiB = models.reduce((sum, m) => sum + memoryEstimate(m).totalMiB, 0);
  const gib = (mib: number) => `${(Math.max(0, mib) / 1024).toFixed(1)} GiB`;
  const given = rooms.map((r) => `${r.vm} ${r.cores} core${r.cores === 1 ? "" : "s"}, ${gib(r.memoryMiB)}`).join("; ");
  const haveCores = rooms.reduce((sum, r) => sum + r.cores, 0);
  const haveMiB = rooms.reduce((sum, r) => sum + Math.max(0, r.memoryMiB), 0);
  const short = haveCores < models.length || haveMiB < needMiB;
  return (
    `${key}: the default ensemble (${models.length} models) does not fit the SLM VMs: it needs ${models.length} cores and ${gib(needMiB)} at least, ` +
    `they give it ${given} (after the kubelet's reserve and the ${neighbours.map((n) => n.name).join(", ")})` +
    (short
      ? `: add cores or memoryGiB to an SLM VM, or list your own ${key}.models`
      : `: enough in all, but the models do not divide over the VMs: move one with ${key}.overrides.<model>.vm, or shrink one with .contextTokens or .quantisation`)
  );
}

// The default model ensemble follows the stack's SLM VMs: renamed, resized or on another host, the
// seven models are spread over whatever SLM VMs the stack has, a user changes one field of one model
// without writing out the list, and a stack whose models cannot fit is refused by `plan` as by
// `render` (exit 3), in one line that names the user's keys, not a list they never wrote.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import YAML from "yaml";
import { DoesNotFit } from "../../common/user-error";
import { TEMPORAL_WORKER, checkCapacity } from "../../slm/capacity";
import { modelInputs } from "../../stacks/model-check";
import { placeStack } from "../../stacks/place-stack";
import { readStackEntries, stackInputsOf } from "../../stacks/stack-inputs";

const root = resolve(__dirname, "../..");
type Vm = { name: string; cores: number; memoryGiB: number; node?: number };

/** The single stack with `edit` applied to its entries, planned without its lock. */
function single(edit: (vms: Vm[], entries: Record<string, unknown>) => void) {
  const entries = readStackEntries(root, "single");
  edit(entries.vms as Vm[], entries);
  const inputs = stackInputsOf(root, "single", entries);
  return { inputs, place: () => placeStack(inputs, undefined) };
}

function modelsOf(edit: (vms: Vm[], entries: Record<string, unknown>) => void) {
  const { inputs, place } = single(edit);
  const placed = place();
  if (placed.kind !== "placed") throw new Error(placed.lines.join("\n"));
  return modelInputs(inputs, placed.plan, "http://lake:8333").config.models;
}

describe("the default ensemble follows the VMs", () => {
  it("a renamed SLM VM gets the models the old name had", () => {
    const models = modelsOf((vms) => {
      vms[0].name = "gpu-less-slm-1";
    });
    expect(new Set(models.map((m) => m.vm))).toEqual(new Set(["gpu-less-slm-1", "k3s-worker-slm"]));
    expect(models).toHaveLength(7);
  });

  it("a smaller SLM VM still holds the seven models when a spread exists, found by backing up from the greedy one", () => {
    // 8 cores and 56 GiB: the greedy spread (largest first, least loaded VM) leaves a model with
    // no room; the search moves an earlier one and finds one that fits.
    const { inputs, place } = single((vms) => {
      vms[0].cores = 8;
      vms[0].memoryGiB = 56;
    });
    const placed = place();
    expect(placed.kind).toBe("placed");
    if (placed.kind !== "placed") return;
    const { config, vms } = modelInputs(inputs, placed.plan, "http://lake:8333");
    const fits = checkCapacity(config.models, vms, [TEMPORAL_WORKER]);
    for (const f of fits) {
      expect(f.neededCpu).toBeLessThanOrEqual(f.capacity.allocatableCpu);
      expect(f.neededMiB).toBeLessThanOrEqual(f.capacity.allocatableMiB);
    }
  });

  it("every model gets at least one whole core, and a VM's model cores are all given out", () => {
    const models = modelsOf(() => {});
    for (const m of models) expect(m.cores).toBeGreaterThanOrEqual(1);
    // k3s-worker-slm-heavy: 16 cores, 1 for the system, 1 for the Temporal worker's 2 CPUs.
    expect(models.filter((m) => m.vm === "k3s-worker-slm-heavy").reduce((s, m) => s + m.cores, 0)).toBe(14);
  });

  it("one field of one model is changed with slm.overrides, the rest spread around it", () => {
    const models = modelsOf((_vms, entries) => {
      (entries.slm as Record<string, unknown>).overrides = { "gemma-7b": { cores: 6 }, "qwen-3b": { vm: "k3s-worker-slm", contextTokens: 8192 } };
    });
    const gemma = models.find((m) => m.name === "gemma-7b")!;
    const qwen = models.find((m) => m.name === "qwen-3b")!;
    expect(gemma.cores).toBe(6);
    expect(qwen).toMatchObject({ vm: "k3s-worker-slm", contextTokens: 8192 });
    expect(models.filter((m) => m.vm === gemma.vm).reduce((s, m) => s + m.cores, 0)).toBeLessThanOrEqual(14);
  });

  it("too small for the ensemble: DoesNotFit, one line naming the SLM VMs and what to change, never the generated list", () => {
    const { place } = single((vms) => {
      vms[0].cores = 6;
      vms[0].memoryGiB = 42;
    });
    let error: unknown;
    try {
      place();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DoesNotFit);
    const message = (error as Error).message;
    expect(message).toMatch(/^Pulumi\.single\.yaml: numa-k3s:slm: the default ensemble \(7 models\) does not fit the SLM VMs: it needs 7 cores and [\d.]+ GiB at least, they give it k3s-worker-slm-heavy 4 cores, [\d.]+ GiB; k3s-worker-slm 2 cores, [\d.]+ GiB .*: add cores or memoryGiB to an SLM VM/);
    expect(message).not.toMatch(/models\[\d+\]/);
    expect(message).not.toContain("\n");
    expect(message.length).toBeLessThan(400);
  });
});

describe("npm run plan and npm run render refuse the same stack", () => {
  const tsx = join(root, "node_modules/.bin/tsx");
  const dir = mkdtempSync(join(tmpdir(), "models-"));
  beforeAll(() => {
    cpSync(join(root, "hosts"), join(dir, "hosts"), { recursive: true });
    cpSync(join(root, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
    const doc = YAML.parse(readFileSync(join(root, "Pulumi.single.yaml"), "utf8"));
    const vms = doc.config["numa-k3s:vms"] as Vm[];
    vms[0].cores = 6;
    vms[0].memoryGiB = 42;
    writeFileSync(join(dir, "Pulumi.small.yaml"), YAML.stringify(doc));
  });
  const run = (cli: string, ...args: string[]) => spawnSync(tsx, [join(root, "cli", cli), ...args], { cwd: dir, encoding: "utf8" });

  it("exit 3 from both, the same line, and plan --lock writes no lock", () => {
    const plan = run("plan.ts", "--stack", "small", "--lock", "hosts/small.lock.json");
    const render = run("render.ts", "--stack", "small", "--out", join(dir, "out"));
    expect(plan.status).toBe(3);
    expect(render.status).toBe(3);
    const line = (text: string) => text.split("\n").filter((l) => l.startsWith("Pulumi.small.yaml:"));
    expect(line(plan.stderr)).toHaveLength(1);
    expect(line(render.stderr)).toEqual(line(plan.stderr));
    expect(() => readFileSync(join(dir, "hosts/small.lock.json"))).toThrow();
  });
});

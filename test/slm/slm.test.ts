import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { reservedMemoryMiB } from "../../k3s/kubelet-config";
import { TEMPORAL_WORKER, checkCapacity, vmCapacity } from "../../slm/capacity";
import { FINANCE_ENSEMBLE, SlmSectionSchema, slmConfigOf } from "../../slm/ensemble";
import { FETCH_SCRIPT } from "../../slm/fetch-script";
import { SERVER_FLAGS_USED, serverArgs } from "../../slm/llama-server";
import { DEFAULT_LLAMA_SERVER_IMAGE, LLAMA_SERVER_DIGEST, LLAMA_SERVER_TAG } from "../../slm/llama-server-image";
import { deploymentOf, ensembleConfigMap, namespaceOf, serviceOf } from "../../slm/manifests";
import { COMPUTE_MARGIN_MIB, kvCacheBytes, memoryEstimate } from "../../slm/memory";
import { ModelSpec, parseSlmConfig } from "../../slm/model-spec";
import { requireTools } from "../tools";
import { CHECKSUMS, LAKE, LAYOUT_NAMES, TEST_IMAGE, defaultConfig, qosClass, slmVms, validateK8s } from "./helpers";
import { InputError } from "../../common/user-error";

const FLAGS = JSON.parse(readFileSync(join(__dirname, "../fixtures/llama-server/server-flags.json"), "utf8")) as {
  build: number;
  image: string;
  flags: string[];
  removed: { flags: string[] };
  values: Record<string, string[]>;
};

const oneModel = (over: Record<string, unknown> = {}) => ({
  name: "mistral-7b",
  source: "https://huggingface.co/example/Mistral-7B-Instruct-v0.3-GGUF/resolve/main/Mistral-7B-Instruct-v0.3-Q8_0.gguf",
  sha256: "a".repeat(64),
  parametersBillions: 7.25,
  quantisation: "Q8_0",
  architecture: "mistral-7b-v0.3",
  contextTokens: 25000,
  vm: "k3s-worker-slm-heavy",
  cores: 4,
  weight: 1.5,
  ...over,
});
const parseOne = (over: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => parseSlmConfig({ image: TEST_IMAGE, models: [oneModel(over)], ...top });

describe("numa-k3s:slm schema", () => {
  it("takes a model list and fills the defaults (one slot)", () => {
    const cfg = parseOne();
    expect(cfg.models[0].parallelSlots).toBe(1);
    expect(cfg.models[0].cores).toBe(4);
  });

  it.each([
    [{ cores: 0 }, {}, /^numa-k3s:slm\.models\[0\]\.cores = 0: must be a whole number >= 1$/],
    [{ threads: 8 }, {}, /^numa-k3s:slm\.models\[0\]\.threads: unknown key$/],
    [{ sha256: "abc" }, {}, /^numa-k3s:slm\.models\[0\]\.sha256 = "abc": must be the file's sha256, 64 lowercase hex digits/],
    [{ source: "http://example.com/m.gguf" }, {}, /^numa-k3s:slm\.models\[0\]\.source = "http:\/\/example.com\/m.gguf": must be an https:\/\/ URL or s3:\/\/models\/<key>/],
    [{ source: "s3://models/finance/m.gguf" }, {}, /^numa-k3s:slm\.models\[0\]\.source = "s3:\/\/models\/finance\/m.gguf": is in the lake: numa-k3s:slm\.lake \{ endpoint \} must be set \(DataLake's endpoint\)$/],
    [{ quantisation: "Q3_K" }, {}, /quantisation = "Q3_K": must be one of F16, BF16, Q8_0/],
    [{ architecture: "llama-9b" }, {}, /architecture = "llama-9b": must be one of gemma-7b, .*, or \{ layers, kvHeads, headDim, maxContextTokens \}/],
    [{ architecture: "gemma-7b", contextTokens: 25000 }, {}, /^numa-k3s:slm\.models\[0\]\.contextTokens = 25000: is more than the model was trained for: contextTokens <= 8192$/],
    [{ name: "Qwen_7B" }, {}, /name = "Qwen_7B": must be a lowercase DNS label/],
    [{}, { image: "ghcr.io/ggml-org/llama.cpp:server" }, /^numa-k3s:slm\.image = "ghcr.io\/ggml-org\/llama.cpp:server": must be an image pinned by digest/],
  ])("refuses %j %j in one line naming key, value and what fits", (over, top, message) => {
    expect(() => parseOne(over, top)).toThrow(message);
    try {
      parseOne(over, top);
    } catch (e) {
      expect((e as Error).message).not.toContain("\n");
      expect((e as Error).name).toBe("InputError");
    }
  });

  it("defaults the image to the pinned multi-arch digest of the tag the flags were checked for", () => {
    const cfg = parseSlmConfig({ models: [oneModel()] });
    expect(cfg.image).toBe(DEFAULT_LLAMA_SERVER_IMAGE);
    expect(cfg.image).toBe(`ghcr.io/ggml-org/llama.cpp:${LLAMA_SERVER_TAG}@${LLAMA_SERVER_DIGEST}`);
    expect(FLAGS.image.startsWith(cfg.image)).toBe(true);
  });

  it("refuses two models of one name, and an architecture given as numbers is used as given", () => {
    expect(() => parseSlmConfig({ image: TEST_IMAGE, models: [oneModel(), oneModel()] })).toThrow(/models\[1\]\.name = "mistral-7b": is already another model's name/);
    const custom = parseOne({ name: "custom", architecture: { layers: 10, kvHeads: 2, headDim: 64, maxContextTokens: 4096 }, contextTokens: 4096 }).models[0];
    expect(kvCacheBytes(custom)).toBe(2 * 10 * 4096 * 1 * 2 * 64 * 2);
  });

  it("the default ensemble needs each GGUF's sha256, and names the key to set", () => {
    expect(() => slmConfigOf({ image: TEST_IMAGE, checksums: { "gemma-7b": "0".repeat(64) } }, LAKE, slmVms("single"), [TEMPORAL_WORKER])).toThrow(
      /^numa-k3s:slm\.checksums: no sha256 for mistral-7b, qwen-7b, gemma-4b, phi-3-mini, gemma-2b, qwen-3b: /,
    );
    const unknown = SlmSectionSchema.safeParse({ checksums: { ...CHECKSUMS, llama: "0".repeat(64) } });
    expect(unknown.success).toBe(false);
    expect(unknown.error!.issues[0].message).toMatch(/^not a model of the default ensemble/);
  });
});

describe("memory request (weights + KV cache + margin)", () => {
  it("is the formula: Mistral 7B Q8_0, 25k context, 2 slots", () => {
    const m = parseOne({ parallelSlots: 2 }).models[0];
    const weights = (7.25e9 * 8.5) / 8;
    const kv = 2 * 32 * 25000 * 2 * 8 * 128 * 2;
    const e = memoryEstimate(m);
    expect(e.weightsMiB).toBe(Math.ceil(weights / 2 ** 20));
    expect(e.kvCacheMiB).toBe(Math.ceil(kv / 2 ** 20));
    expect(e.totalMiB).toBe(e.weightsMiB + e.kvCacheMiB + COMPUTE_MARGIN_MIB);
    // More context or slots never asks for less.
    expect(memoryEstimate({ ...m, parallelSlots: 3 }).totalMiB).toBeGreaterThan(e.totalMiB);
  });
});

describe("capacity against the kubelet's allocatable", () => {
  it.each(LAYOUT_NAMES)("the default ensemble fits the shipped %s stack, every model on its layout's VM", (layout) => {
    const cfg = defaultConfig(layout);
    const vms = slmVms(layout);
    const fits = checkCapacity(cfg.models, vms);
    expect(fits.flatMap((f) => f.models.map((m) => m.name)).sort()).toEqual(FINANCE_ENSEMBLE.map((m) => m.name).sort());
    for (const f of fits) {
      expect(f.neededCpu).toBeLessThanOrEqual(f.capacity.allocatableCpu);
      expect(f.neededMiB).toBeLessThanOrEqual(f.capacity.allocatableMiB);
    }
  });

  it("allocatable is the kubelet's: vCPUs minus the first core, memory minus page map and k3s/kubelet-config.ts's reserve", () => {
    const heavy = slmVms("single").find((v) => v.placement.name === "k3s-worker-slm-heavy")!;
    const c = vmCapacity(heavy);
    expect(c.allocatableCpu).toBe(32 - 2);
    const r = reservedMemoryMiB(118 * 1024, "agent");
    expect(c.allocatableMiB).toBe(118 * 1024 - Math.ceil((118 * 1024) / 64) - r.system - r.kube - r.eviction);
  });

  it("refuses a VM whose models do not fit, in one line naming the VM and the numbers", () => {
    const cfg = defaultConfig("single");
    const models: ModelSpec[] = cfg.models.map((m) => (m.name === "gemma-4b" ? { ...m, cores: 3 } : m));
    let message = "";
    try {
      checkCapacity(models, slmVms("single"));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe(
      "numa-k3s:slm.models: VM k3s-worker-slm does not hold its models: CPU: models 6 (gemma-4b 6) + Temporal worker 2 = 8 CPUs > allocatable 6 (8 vCPUs - 2 of the system core); at most 2 cores in all for its models",
    );
    const huge = cfg.models.map((m) => (m.name === "gemma-4b" ? { ...m, parallelSlots: 32 } : m));
    expect(() => checkCapacity(huge, slmVms("single"))).toThrow(/^numa-k3s:slm\.models: VM k3s-worker-slm does not hold its models: memory: models \d+ MiB \(gemma-4b \d+\) \+ Temporal worker 4096 MiB = \d+ MiB > allocatable 30776 MiB \(32768 - guest kernel 512 - kubelet reserve 1480\); at most 26680 MiB for its models$/);
  });

  it("refuses models whose files do not fit the VM's staging disk (with room for one download)", () => {
    const cfg = defaultConfig("single");
    const small = slmVms("single").map((v) => (v.placement.name === "k3s-worker-slm" ? { ...v, stagingGiB: 6 } : v));
    expect(() => checkCapacity(cfg.models, small)).toThrow(
      /^numa-k3s:slm\.models: VM k3s-worker-slm does not hold its models: staging disk: model files 4358 MiB \+ one download in progress 4358 MiB = 8716 MiB > 6144 MiB \(stagingGiB 6\)$/,
    );
    expect(slmVms("single").find((v) => v.placement.name === "k3s-worker-slm")!.stagingGiB).toBe(40);
  });

  it("refuses a model on a VM that is not one of the pool's, or on a floating VM", () => {
    const cfg = defaultConfig("single");
    expect(() => checkCapacity([{ ...cfg.models[0], vm: "k3s-worker-data" }], slmVms("single"))).toThrow(
      /^numa-k3s:slm\.models\[0\]\.vm = "k3s-worker-data": not an SLM VM of this stack; one of k3s-worker-slm, k3s-worker-slm-heavy$/,
    );
    const floating = slmVms("single").map((v) => ({ ...v, placement: { ...v.placement, node: null } }));
    expect(() => checkCapacity(cfg.models, floating)).toThrow(/a floating VM .* never serves a model/);
  });
});

describe("model servers", () => {
  const cases = LAYOUT_NAMES.flatMap((layout) => defaultConfig(layout).models.map((m) => [layout, m.name] as const));

  it.each(cases)("%s %s: Guaranteed, CPU = cores x threads per core, --threads/--threads-batch = cores, placed on its VM and node", (layout, name) => {
    const cfg = defaultConfig(layout);
    const model = cfg.models.find((m) => m.name === name)!;
    const vm = slmVms(layout).find((v) => v.placement.name === model.vm)!;
    const d = deploymentOf(model, vm, cfg);
    const pod = d.spec!.template.spec!;
    expect(qosClass(pod as Parameters<typeof qosClass>[0])).toBe("Guaranteed");
    for (const c of [...pod.initContainers!, ...pod.containers]) {
      const cpu = Number(c.resources!.limits!.cpu);
      expect(Number.isInteger(cpu)).toBe(true);
      expect(cpu % vm.placement.topology.threads).toBe(0);
      expect(cpu / vm.placement.topology.threads).toBe(model.cores);
    }
    const args = pod.containers[0].args!;
    const value = (flag: string) => args[args.indexOf(flag) + 1];
    const grantedCores = Number(pod.containers[0].resources!.limits!.cpu) / vm.placement.topology.threads;
    expect(Number(value("--threads"))).toBe(grantedCores);
    expect(Number(value("--threads-batch"))).toBe(grantedCores);
    expect(Number(value("--ctx-size"))).toBe(model.contextTokens * model.parallelSlots);
    expect(value("--load-mode")).toBe("mmap+mlock");
    expect(args).toContain("--metrics");
    expect(pod.containers[0].securityContext!.capabilities!.add).toEqual(["IPC_LOCK"]);
    expect(pod.nodeSelector).toEqual({
      "kubernetes.io/hostname": vm.placement.name,
      "numa-k3s.io/host": vm.placement.host,
      "numa-k3s.io/numa-node": String(vm.placement.node),
      "numa-k3s.io/workload": "slm",
    });
    expect(pod.tolerations).toContainEqual({ key: "workload", operator: "Equal", value: "slm", effect: "NoSchedule" });
    for (const probe of [pod.containers[0].readinessProbe!, pod.containers[0].livenessProbe!, pod.containers[0].startupProbe!]) expect(probe.httpGet).toEqual({ path: "/health", port: "http" });
    expect(d.spec!.template.metadata!.annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics" });
    expect(d.spec!.strategy).toEqual({ type: "Recreate" });
  });

  it("the flag list was read for the pinned image's build (a new tag needs it re-read)", () => {
    expect(`server-b${FLAGS.build}`).toBe(LLAMA_SERVER_TAG);
  });

  it("passes only flags of the pinned llama.cpp server (test/fixtures/llama-server/server-flags.json), none it removed", () => {
    const known = new Set(FLAGS.flags);
    for (const flag of SERVER_FLAGS_USED) expect({ flag, known: known.has(flag) }).toEqual({ flag, known: true });
    const args = serverArgs(defaultConfig("single").models[0]);
    const used = args.filter((a) => a.startsWith("-"));
    expect(used.every((f) => known.has(f))).toBe(true);
    expect([...new Set(used)].sort()).toEqual([...SERVER_FLAGS_USED].sort());
    expect(FLAGS.values["--flash-attn"]).toContain(args[args.indexOf("--flash-attn") + 1]);
    expect(FLAGS.values["--load-mode"]).toContain(args[args.indexOf("--load-mode") + 1]);
    expect(used.filter((f) => FLAGS.removed.flags.includes(f))).toEqual([]);
  });

  it("s3 sources read the lake's credentials from the Secret, never from the pod spec in the clear", () => {
    const cfg = defaultConfig("single");
    const vm = slmVms("single").find((v) => v.placement.name === cfg.models[0].vm)!;
    const env = deploymentOf(cfg.models[0], vm, cfg).spec!.template.spec!.initContainers![0].env!;
    expect(env.find((e) => e.name === "AWS_SECRET_ACCESS_KEY")).toEqual({ name: "AWS_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: "lake-models-reader", key: "AWS_SECRET_ACCESS_KEY" } } });
    expect(env.find((e) => e.name === "S3_ENDPOINT")!.value).toBe("http://minio.storage:9000");
  });

  it.each(LAYOUT_NAMES)("every object of the %s ensemble is valid against the Kubernetes schemas (kubernetes-models 5.1.0)", (layout) => {
    const cfg = defaultConfig(layout);
    const vms = slmVms(layout);
    const objects = [namespaceOf(), ensembleConfigMap(cfg.models), ...cfg.models.flatMap((m) => [deploymentOf(m, vms.find((v) => v.placement.name === m.vm)!, cfg), serviceOf(m)])];
    const results = validateK8s(objects);
    expect(results.filter((r) => r.error !== null)).toEqual([]);
    expect(results).toHaveLength(2 + 2 * cfg.models.length);
  });

  it("the ensemble ConfigMap maps each model to its Service, weight and size class", () => {
    const cfg = defaultConfig("distributed");
    const data = JSON.parse(ensembleConfigMap(cfg.models).data!["ensemble.json"]) as { models: { name: string; endpoint: string; weight: number; sizeClass: string }[] };
    expect(data.models.map((m) => [m.name, m.sizeClass, m.weight])).toEqual([
      ["gemma-7b", "large", 1.5],
      ["mistral-7b", "large", 1.5],
      ["qwen-7b", "large", 1.5],
      ["gemma-4b", "small", 1],
      ["phi-3-mini", "small", 1],
      ["gemma-2b", "small", 1],
      ["qwen-3b", "small", 1],
    ]);
    expect(data.models[0].endpoint).toBe("http://slm-gemma-7b.slm.svc.cluster.local:8080");
  });
});

describe("fetch script (init container)", () => {
  // CI must have them (requireTools fails there); elsewhere the script tests skip with one line.
  const haveTools = requireTools("test/slm/slm.test.ts", [
    ["shellcheck", "shellcheck"],
    ["flock", "util-linux"],
    ["sha256sum", "coreutils"],
  ]);
  const STAND_IN_CURL = `#!/bin/bash
# A stand-in for curl: records its arguments (and a --config read from stdin), waits CURL_DELAY,
# and copies the file named by the URL's last path element from FAKE_ORIGIN to --output.
echo "$*" >> "$CURL_LOG"
out=""; url=""
while [ $# -gt 0 ]; do
  case "$1" in
    --output) out="$2"; shift 2 ;;
    --config) cat > "$CURL_LOG.config"; shift 2 ;;
    --retry|--retry-delay|--aws-sigv4) shift 2 ;;
    -*) shift ;;
    *) url="$1"; shift ;;
  esac
done
sleep "\${CURL_DELAY:-0}"
cp "$FAKE_ORIGIN/\${url##*/}" "$out"
`;

  function sandbox() {
    const dir = mkdtempSync(join(tmpdir(), "slm-fetch-"));
    const bin = join(dir, "bin");
    const origin = join(dir, "origin");
    spawnSync("mkdir", ["-p", bin, origin]);
    writeFileSync(join(bin, "curl"), STAND_IN_CURL);
    chmodSync(join(bin, "curl"), 0o755);
    writeFileSync(join(dir, "fetch.sh"), FETCH_SCRIPT);
    const content = "GGUF test model bytes\n".repeat(1000);
    writeFileSync(join(origin, "model.gguf"), content);
    const sha = createHash("sha256").update(content).digest("hex");
    const env = (over: Record<string, string> = {}) => ({
      PATH: `${bin}:${process.env.PATH}`,
      CURL_LOG: join(dir, "curl.log"),
      FAKE_ORIGIN: origin,
      MODEL_SOURCE: "https://models.example/finance/model.gguf",
      MODEL_SHA256: sha,
      MODEL_NAME: "model",
      MODEL_FILE: "model-0123456789abcdef.gguf",
      MODELS_DIR: join(dir, "data/local/models"),
      ...over,
    });
    const run = (over: Record<string, string> = {}) => spawnSync("bash", [join(dir, "fetch.sh")], { env: env(over), encoding: "utf8" });
    const calls = () => (existsSync(join(dir, "curl.log")) ? readFileSync(join(dir, "curl.log"), "utf8").trim().split("\n") : []);
    const models = join(dir, "data/local/models");
    return { dir, env, run, calls, models, sha, content };
  }

  (haveTools ? it : it.skip)("is bash -n and shellcheck clean", () => {
    expect(spawnSync("bash", ["-n"], { input: FETCH_SCRIPT, encoding: "utf8" }).stderr).toBe("");
    const lint = spawnSync("shellcheck", ["-s", "bash", "-"], { input: FETCH_SCRIPT, encoding: "utf8" });
    expect(lint.stdout).toBe("");
    expect(lint.status).toBe(0);
  });

  (haveTools ? it : it.skip)("fetches once, verifies, renames into place read-only, and the next pod reuses the file", () => {
    const s = sandbox();
    const first = s.run();
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    const file = join(s.models, "model-0123456789abcdef.gguf");
    expect(readFileSync(file, "utf8")).toBe(s.content);
    expect(statSync(file).mode & 0o777).toBe(0o444);
    expect(readdirSync(s.models).sort()).toEqual(["model-0123456789abcdef.gguf", "model-0123456789abcdef.gguf.lock"]);
    const second = s.run();
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/reused/);
    expect(s.calls()).toHaveLength(1);
  });

  (haveTools ? it : it.skip)("refuses a file whose sha256 differs and leaves nothing behind", () => {
    const s = sandbox();
    const r = s.run({ MODEL_SHA256: "f".repeat(64) });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`has sha256 ${s.sha}, not f{64}: refused`));
    expect(readdirSync(s.models)).toEqual(["model-0123456789abcdef.gguf.lock"]);
  });

  (haveTools ? it : it.skip)("replaces a corrupt file already on the node", () => {
    const s = sandbox();
    spawnSync("mkdir", ["-p", s.models]);
    writeFileSync(join(s.models, "model-0123456789abcdef.gguf"), "truncated");
    const r = s.run();
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/does not have sha256 .*: fetching it again/);
    expect(readFileSync(join(s.models, "model-0123456789abcdef.gguf"), "utf8")).toBe(s.content);
  });

  (haveTools ? it : it.skip)("removes the model's older versions and nothing else", () => {
    const s = sandbox();
    spawnSync("mkdir", ["-p", s.models]);
    const keep = ["model-2b-00000000000000000000.gguf", "model-2-fedcba9876543210.gguf", "other-1111111111111111.gguf", "model-notes.txt"];
    for (const f of [...keep, "model-1111111111111111.gguf"]) writeFileSync(join(s.models, f), "x");
    const r = s.run();
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/removed .*model-1111111111111111\.gguf, an older version of model/);
    expect(readdirSync(s.models).sort()).toEqual([...keep, "model-0123456789abcdef.gguf", "model-0123456789abcdef.gguf.lock"].sort());
  });

  (haveTools ? it : it.skip)("two pods on one node: the second waits for the first's lock and downloads nothing", async () => {
    const s = sandbox();
    const start = () =>
      new Promise<number>((resolve) => {
        const child = spawn("bash", [join(s.dir, "fetch.sh")], { env: s.env({ CURL_DELAY: "1" }), stdio: "ignore" });
        child.on("exit", (code) => resolve(code ?? -1));
      });
    const codes = await Promise.all([start(), start()]);
    expect(codes).toEqual([0, 0]);
    expect(s.calls()).toHaveLength(1);
    expect(readFileSync(join(s.models, "model-0123456789abcdef.gguf"), "utf8")).toBe(s.content);
  });

  (haveTools ? it : it.skip)("s3://models/…: SigV4 path-style against the lake endpoint, credentials on stdin only", () => {
    const s = sandbox();
    const r = s.run({ MODEL_SOURCE: "s3://models/finance/model.gguf", S3_ENDPOINT: "http://minio.storage:9000", S3_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "reader", AWS_SECRET_ACCESS_KEY: "s3cr3t-key" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const [call] = s.calls();
    expect(call).toContain("--aws-sigv4 aws:amz:us-east-1:s3");
    expect(call).toMatch(/http:\/\/minio\.storage:9000\/models\/finance\/model\.gguf$/);
    expect(call).not.toContain("s3cr3t-key");
    expect(readFileSync(`${join(s.dir, "curl.log")}.config`, "utf8")).toBe('user = "reader:s3cr3t-key"\n');
  });
});

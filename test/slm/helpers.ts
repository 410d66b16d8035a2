// What the SLM tests share: the shipped stacks' locked VMs, a pool config built from the default
// ensemble, the Kubernetes QoS rule, and the schema validator (kubernetes-models, run by node).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Layout } from "../../k3s/layouts";
import YAML from "yaml";
import { SlmVm, StackVmRole, TEMPORAL_WORKER, slmVmsOf } from "../../slm/capacity";
import { FINANCE_ENSEMBLE, slmConfigOf } from "../../slm/ensemble";
import type { SlmConfig } from "../../slm/model-spec";
import type { VmPlacement } from "../../topology/placement";

export const LAYOUT_NAMES: Layout[] = ["mac-numa", "single", "distributed"];
/** A well-formed digest for tests: not the real image's (slm/llama-server.ts says where to get it). */
export const TEST_IMAGE = `ghcr.io/ggml-org/llama.cpp:server-b11176@sha256:${"0123456789abcdef".repeat(4)}`;
export const LAKE = { endpoint: "http://minio.storage:9000", credentialsSecret: "lake-models-reader" };

export function lockedVms(layout: Layout): VmPlacement[] {
  return (JSON.parse(readFileSync(join(__dirname, `../../hosts/${layout}.lock.json`), "utf8")) as { vms: VmPlacement[] }).vms;
}

/** The SLM VMs of a shipped stack: workload slm in Pulumi.<stack>.yaml, placed as its lock says. */
export function slmVms(layout: Layout): SlmVm[] {
  const doc = YAML.parse(readFileSync(join(__dirname, `../../Pulumi.${layout}.yaml`), "utf8")) as { config: Record<string, unknown> };
  const vms = (doc.config["numa-k3s:vms"] as { name: string; workload: string; k3sRole?: "server" | "agent"; disks?: { stagingGiB?: number } }[]).map(
    (v): StackVmRole => ({ name: v.name, workload: v.workload, k3sRole: v.k3sRole ?? "agent", stagingGiB: v.disks?.stagingGiB }),
  );
  return slmVmsOf(lockedVms(layout), vms);
}

/** A fake but well-formed sha256 per model (the files are the user's). */
export const CHECKSUMS = Object.fromEntries(FINANCE_ENSEMBLE.map((m, i) => [m.name, String(i).repeat(64)]));

/** The default ensemble spread over a shipped stack's SLM VMs, as the program spreads it. */
export function defaultConfig(layout: Layout): SlmConfig {
  return slmConfigOf({ image: TEST_IMAGE, checksums: CHECKSUMS }, LAKE, slmVms(layout), [TEMPORAL_WORKER]);
}

type Resources = { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
type ContainerLike = { name: string; resources?: Resources };

/**
 * Kubernetes' QoS class of a pod (pkg/apis/core/helper/qos): Guaranteed when every container,
 * init containers included, has CPU and memory limits and requests equal to them (a missing
 * request defaults to the limit); BestEffort when none has any; Burstable otherwise.
 */
export function qosClass(spec: { containers: ContainerLike[]; initContainers?: ContainerLike[] }): "Guaranteed" | "Burstable" | "BestEffort" {
  const all = [...(spec.initContainers ?? []), ...spec.containers];
  const none = all.every((c) => Object.keys(c.resources?.requests ?? {}).length === 0 && Object.keys(c.resources?.limits ?? {}).length === 0);
  if (none) return "BestEffort";
  const guaranteed = all.every((c) =>
    ["cpu", "memory"].every((r) => {
      const limit = c.resources?.limits?.[r];
      const request = c.resources?.requests?.[r] ?? limit;
      return limit !== undefined && String(request) === String(limit);
    }),
  );
  return guaranteed ? "Guaranteed" : "Burstable";
}

/** Each object's schema error (null when valid), from kubernetes-models 5.1.0. */
export function validateK8s(objects: unknown[]): { kind: string; name: string | null; error: string | null }[] {
  const run = spawnSync("node", [join(__dirname, "validate-k8s.mjs")], { input: JSON.stringify(objects), encoding: "utf8", cwd: join(__dirname, "../..") });
  if (run.status !== 0) throw new Error(`validate-k8s.mjs failed: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

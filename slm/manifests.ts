// The Kubernetes objects of the pool, as plain values: one Deployment and one Service per model,
// the `ensemble` ConfigMap the consensus workflow reads, and the namespace. The component hands
// them to @pulumi/kubernetes unchanged, the tests validate them against the Kubernetes schemas,
// and render prints them; nothing else builds a pod spec.
import { MANAGED_BY, appLabels } from "../common/k8s-labels";
import { LABEL_HOST, LABEL_NUMA_NODE, LABEL_WORKLOAD } from "../k3s/layouts";
import { FETCH_SCRIPT } from "./fetch-script";
import { MODELS_DIR, SERVER_PORT, modelFileName, serverArgs } from "./llama-server";
import { POD_DIRS } from "../guest/data-mounts";
import { memoryEstimate } from "./memory";
import { ModelSpec, SlmConfig } from "./model-spec";
import type { SlmVm } from "./capacity";
// Types only (erased at compile time): the objects are checked field by field against the
// Kubernetes API's own shapes, so a misspelt field fails tsc instead of being dropped by the API.
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { IProbe } from "kubernetes-models/v1/Probe";
import type { IService } from "kubernetes-models/v1/Service";

export type K8sObject = IDeployment | IService | IConfigMap | INamespace;

/** Default namespace of the pool. */
export const SLM_NAMESPACE = "slm";
export const ENSEMBLE_CONFIGMAP = "ensemble";
/** The pod label the Service selects on and vmagent can relabel to `model`. */
export const LABEL_MODEL = "numa-k3s.io/model";
/** Parameters (billions) from which a model counts as `large` in the ensemble (the 7 B class). */
export const LARGE_FROM_BILLIONS = 6;
/**
 * The init container's memory: bash, curl and sha256sum need a few MiB; the rest is room for the
 * page cache of the file being written and hashed, which is charged to the container and reclaimed
 * under its limit (so the limit throttles writeback, it does not fail the download).
 */
export const FETCH_MEMORY_MIB = 512;
/** Startup budget: reading and locking a 9 GB GGUF from the staging disk takes minutes. */
export const STARTUP_SECONDS = 900;

export function objectName(model: Pick<ModelSpec, "name">): string {
  return `slm-${model.name}`;
}

export function sizeClass(model: Pick<ModelSpec, "parametersBillions">): "large" | "small" {
  return model.parametersBillions >= LARGE_FROM_BILLIONS ? "large" : "small";
}

export function serviceEndpoint(model: Pick<ModelSpec, "name">, namespace = SLM_NAMESPACE): string {
  return `http://${objectName(model)}.${namespace}.svc.cluster.local:${SERVER_PORT}`;
}

function labels(model: ModelSpec): Record<string, string> {
  // component=model-server is what the numa-guard policy pack (policy/rules/workload-rules.ts)
  // recognises a model server by.
  return appLabels("llama-server", { partOf: "slm-ensemble", component: "model-server", instance: model.name, extra: { [LABEL_MODEL]: model.name } });
}

/** The k8s node selector of a model: its VM by name, and the host / NUMA node the plan put it on. */
export function nodeSelectorOf(vm: SlmVm): Record<string, string> {
  return {
    "kubernetes.io/hostname": vm.placement.name,
    [LABEL_HOST]: vm.placement.host,
    [LABEL_NUMA_NODE]: String(vm.placement.node),
    [LABEL_WORKLOAD]: "slm",
  };
}

function fetchEnv(model: ModelSpec, config: SlmConfig): IEnvVar[] {
  const env: IEnvVar[] = [
    { name: "MODEL_SOURCE", value: model.source },
    { name: "MODEL_SHA256", value: model.sha256 },
    { name: "MODEL_NAME", value: model.name },
    { name: "MODEL_FILE", value: modelFileName(model) },
    { name: "MODELS_DIR", value: MODELS_DIR },
  ];
  if (model.source.startsWith("s3://") && config.lake) {
    env.push(
      { name: "S3_ENDPOINT", value: config.lake.endpoint },
      { name: "S3_REGION", value: config.lake.region },
      { name: "AWS_ACCESS_KEY_ID", valueFrom: { secretKeyRef: { name: config.lake.credentialsSecret, key: "AWS_ACCESS_KEY_ID" } } },
      { name: "AWS_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: config.lake.credentialsSecret, key: "AWS_SECRET_ACCESS_KEY" } } },
    );
  }
  return env;
}

/**
 * A model's server: a Deployment of one Guaranteed pod.
 * - Every container, the init container included, has requests == limits, CPU a whole number of
 *   the VM's cores (cores x threads per core): the static CPU manager with full-pcpus-only then
 *   grants whole cores, and the topology manager (single-numa-node) keeps them on the VM's one node.
 *   The init container asks for the same CPU as the server, so the pod's effective request is the
 *   server's (the kubelet hands the init container's exclusive cores on to the server).
 * - Recreate, not a rolling update: a second pod of the same model would need another set of whole
 *   cores and its memory on the same VM, which the capacity plan does not hold.
 * - nodeSelector on the VM's hostname and its host / NUMA labels; the toleration of
 *   workload=slm:NoSchedule (the `single` layout taints its SLM workers).
 * - /data/local/models from the VM's staging disk: hostPath /data/local/numa-k3s of type Directory
 *   (the boot script creates it on the mounted staging disk only, guest/data-mounts.ts: without
 *   the disk the pod does not start, instead of filling the OS disk), the `models` sub-directory
 *   mounted (subPath, created by the kubelet);
 *   shared by every pod on the node and with the Temporal worker; the server mounts it read-only.
 * - startup, readiness and liveness on /health (503 while the model loads, 200 once it serves).
 * - prometheus.io annotations and the port name `http`: what vmagent's pod discovery scrapes.
 */
export function deploymentOf(model: ModelSpec, vm: SlmVm, config: SlmConfig, namespace = SLM_NAMESPACE): IDeployment {
  const cpu = String(model.cores * vm.placement.topology.threads);
  const memory = `${memoryEstimate(model).totalMiB}Mi`;
  const fetchMemory = `${FETCH_MEMORY_MIB}Mi`;
  const probe = (periodSeconds: number, failureThreshold: number): IProbe => ({
    httpGet: { path: "/health", port: "http" },
    periodSeconds,
    timeoutSeconds: 5,
    failureThreshold,
  });
  const podLabels = labels(model);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: objectName(model), namespace, labels: podLabels },
    spec: {
      replicas: 1,
      strategy: { type: "Recreate" },
      selector: { matchLabels: { [LABEL_MODEL]: model.name } },
      template: {
        metadata: {
          labels: podLabels,
          annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(SERVER_PORT), "prometheus.io/path": "/metrics" },
        },
        spec: {
          nodeSelector: nodeSelectorOf(vm),
          tolerations: [{ key: "workload", operator: "Equal", value: "slm", effect: "NoSchedule" }],
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          initContainers: [
            {
              name: "fetch-model",
              image: config.image,
              command: ["/bin/bash", "-c", FETCH_SCRIPT],
              env: fetchEnv(model, config),
              resources: { requests: { cpu, memory: fetchMemory }, limits: { cpu, memory: fetchMemory } },
              volumeMounts: [{ name: "staging", mountPath: MODELS_DIR, subPath: "models" }],
              securityContext: { allowPrivilegeEscalation: false },
            },
          ],
          containers: [
            {
              name: "llama-server",
              image: config.image,
              args: serverArgs(model),
              ports: [{ name: "http", containerPort: SERVER_PORT, protocol: "TCP" }],
              resources: { requests: { cpu, memory }, limits: { cpu, memory } },
              volumeMounts: [{ name: "staging", mountPath: MODELS_DIR, subPath: "models", readOnly: true }],
              securityContext: { allowPrivilegeEscalation: false, capabilities: { add: ["IPC_LOCK"] } },
              startupProbe: probe(10, STARTUP_SECONDS / 10),
              readinessProbe: probe(10, 3),
              livenessProbe: probe(20, 3),
            },
          ],
          volumes: [{ name: "staging", hostPath: { path: POD_DIRS.staging, type: "Directory" } }],
        },
      },
    },
  };
}

export function serviceOf(model: ModelSpec, namespace = SLM_NAMESPACE): IService {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: objectName(model), namespace, labels: labels(model) },
    spec: {
      type: "ClusterIP",
      selector: { [LABEL_MODEL]: model.name },
      ports: [{ name: "http", port: SERVER_PORT, targetPort: "http", protocol: "TCP" }],
    },
  };
}

/** What the consensus workflow reads: model -> endpoint, weight, size class (and where it runs). */
export interface EnsembleEntry {
  name: string;
  endpoint: string;
  weight: number;
  sizeClass: "large" | "small";
  vm: string;
  contextTokens: number;
  parallelSlots: number;
}

export function ensembleEntries(models: ModelSpec[], namespace = SLM_NAMESPACE): EnsembleEntry[] {
  return models.map((m) => ({
    name: m.name,
    endpoint: serviceEndpoint(m, namespace),
    weight: m.weight,
    sizeClass: sizeClass(m),
    vm: m.vm,
    contextTokens: m.contextTokens,
    parallelSlots: m.parallelSlots,
  }));
}

export function ensembleConfigMap(models: ModelSpec[], namespace = SLM_NAMESPACE): IConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: ENSEMBLE_CONFIGMAP, namespace, labels: { "app.kubernetes.io/part-of": "slm-ensemble", ...MANAGED_BY } },
    data: { "ensemble.json": `${JSON.stringify({ models: ensembleEntries(models, namespace) }, null, 2)}\n` },
  };
}

export function namespaceOf(namespace = SLM_NAMESPACE): INamespace {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels: { "app.kubernetes.io/managed-by": "numa-k3s" } } };
}

// Temporal as plain data: the chart's values (server + UI, SQL persistence on our PostgreSQL,
// the default namespace registered), PostgreSQL as a small StatefulSet of the official image, the
// UI's NodePort, and the worker DaemonSet next to the SLM pods. No Pulumi here;
// components/TemporalCluster.ts makes the resources.
import { appLabels, appSelector } from "../common/k8s-labels";
import type { IDaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IService } from "kubernetes-models/v1/Service";
import type { IResourceRequirements } from "kubernetes-models/v1/ResourceRequirements";
import { IMAGES } from "./versions";
import type { PodPlacement } from "../k3s/layouts";

export interface TemporalSpec {
  namespace: string;
  /** Helm release name; the chart's fullname (`temporal`, as release and chart name agree). */
  release: string;
  placement: PodPlacement;
  /** History shards: fixed at the cluster's creation (Temporal cannot change it later). */
  numHistoryShards: number;
  /** Namespaces to register, with retention (`3d`). */
  namespaces: { name: string; retention: string }[];
  uiNodePort: number | null;
  postgres: { sizeGiB: number; storageClassName: string; resources: IResourceRequirements };
  worker: {
    image: string;
    cpu: string;
    memory: string;
    placement: PodPlacement;
    hostPath: string;
    /** The Temporal namespace the worker polls. */
    temporalNamespace: string;
    env: Record<string, string>;
  };
}

export const FRONTEND_PORT = 7233;
export const POSTGRES_PORT = 5432;
export const POSTGRES_SERVICE = "postgres";
/** The Secret PostgreSQL and the chart both read the database password from (key `password`). */
export const DB_SECRET = "temporal-db";
/** The worker's S3 Secret in the Temporal namespace (AWS_* keys). */
export const WORKER_S3_SECRET = "worker-s3";
export const DB_USER = "temporal";

/** The frontend's in-cluster address: our `temporal` Service (docs/reference-layouts.md's temporal.temporal:7233). */
export function frontendAddress(spec: Pick<TemporalSpec, "namespace">): string {
  return `temporal.${spec.namespace}.svc:${FRONTEND_PORT}`;
}

/** Per-service resources, sized for the Mac's 4 GiB control-plane VM (requests are what the
 * scheduler sums; limits leave room for a burst of history shards loading). */
export const SERVER_RESOURCES: Record<"frontend" | "history" | "matching" | "worker", IResourceRequirements> = {
  frontend: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "384Mi" } },
  history: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "768Mi" } },
  matching: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "384Mi" } },
  worker: { requests: { cpu: "25m", memory: "96Mi" }, limits: { memory: "256Mi" } },
};
export const WEB_RESOURCES: IResourceRequirements = { requests: { cpu: "25m", memory: "64Mi" }, limits: { memory: "192Mi" } };
export const JOB_RESOURCES: IResourceRequirements = { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } };

const sqlStore = (spec: TemporalSpec, database: string) => ({
  sql: {
    // The chart's schema Job creates both databases and applies/updates the schema on upgrade.
    createDatabase: true,
    manageSchema: true,
    pluginName: "postgres12",
    databaseName: database,
    connectAddr: `${POSTGRES_SERVICE}.${spec.namespace}.svc:${POSTGRES_PORT}`,
    connectProtocol: "tcp",
    user: DB_USER,
    existingSecret: DB_SECRET,
    secretKey: "password",
    maxConns: 20,
    maxIdleConns: 20,
  },
});

/**
 * Values for the temporal chart:
 * - persistence on our PostgreSQL, the password only through the Secret (existingSecret);
 * - Helm hooks off: under Pulumi a hook is an ordinary resource, and without hooks the schema
 *   and namespace Jobs carry the chart version in their names, so an upgrade runs them again;
 * - admintools' Deployment off (a debugging shell, 100+ MiB on a 4 GiB VM); its image still runs
 *   the schema and namespace Jobs, which take admintools' nodeSelector and tolerations.
 */
export function temporalValues(spec: TemporalSpec): Record<string, unknown> {
  const placed = { nodeSelector: spec.placement.nodeSelector, tolerations: spec.placement.tolerations };
  const service = (name: keyof typeof SERVER_RESOURCES) => ({ resources: SERVER_RESOURCES[name], ...placed });
  return {
    server: {
      replicaCount: 1,
      config: {
        persistence: {
          defaultStore: "default",
          visibilityStore: "visibility",
          numHistoryShards: spec.numHistoryShards,
          datastores: { default: sqlStore(spec, "temporal"), visibility: sqlStore(spec, "temporal_visibility") },
        },
        namespaces: { create: true, useHelmHooks: false, namespace: spec.namespaces },
      },
      frontend: service("frontend"),
      history: service("history"),
      matching: service("matching"),
      worker: service("worker"),
    },
    admintools: { enabled: false, ...placed },
    web: { enabled: true, replicaCount: 1, resources: WEB_RESOURCES, ...placed },
    schema: { useHelmHooks: false, resources: JOB_RESOURCES },
  };
}

/** The chart's pod labels for a component (temporal.resourceLabels). */
export function chartPodLabels(spec: TemporalSpec, component: "frontend" | "web"): Record<string, string> {
  return { "app.kubernetes.io/name": "temporal", "app.kubernetes.io/instance": spec.release, "app.kubernetes.io/component": component };
}

/** `temporal.<namespace>:7233`, the name the documents use, in front of the chart's frontend. */
export function frontendService(spec: TemporalSpec): IService {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "temporal", namespace: spec.namespace },
    spec: { selector: chartPodLabels(spec, "frontend"), ports: [{ name: "grpc-rpc", port: FRONTEND_PORT, targetPort: FRONTEND_PORT, protocol: "TCP" }] },
  };
}

/** The UI on a fixed NodePort (the chart's Service cannot fix one: values.yaml has no nodePort). */
export function uiNodePortService(spec: TemporalSpec): IService | null {
  if (spec.uiNodePort === null) return null;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "temporal-web-nodeport", namespace: spec.namespace },
    spec: { type: "NodePort", selector: chartPodLabels(spec, "web"), ports: [{ name: "http", port: 8080, targetPort: 8080, nodePort: spec.uiNodePort, protocol: "TCP" }] },
  };
}

export function postgresService(spec: TemporalSpec): IService {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: POSTGRES_SERVICE, namespace: spec.namespace },
    spec: { selector: { "app.kubernetes.io/name": "postgres" }, ports: [{ name: "postgres", port: POSTGRES_PORT, targetPort: POSTGRES_PORT, protocol: "TCP" }] },
  };
}

/**
 * PostgreSQL for Temporal: one replica of the official image, data on a claim of its own (PGDATA
 * in a subdirectory, as the image asks for on a volume with lost+found), small buffers for the
 * Mac's VM, readiness from pg_isready so the schema Job waits for a database that answers.
 */
export function postgresStatefulSet(spec: TemporalSpec): IStatefulSet {
  const labels = appLabels("postgres", { partOf: "temporal", component: "database" });
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: POSTGRES_SERVICE, namespace: spec.namespace, labels },
    spec: {
      serviceName: POSTGRES_SERVICE,
      replicas: 1,
      selector: { matchLabels: appSelector("postgres") },
      template: {
        metadata: { labels },
        spec: {
          nodeSelector: spec.placement.nodeSelector,
          tolerations: spec.placement.tolerations,
          securityContext: { fsGroup: 999 },
          containers: [
            {
              name: "postgres",
              image: IMAGES.postgres,
              args: ["-c", "shared_buffers=64MB", "-c", "max_connections=100", "-c", "effective_cache_size=192MB"],
              env: [
                { name: "POSTGRES_USER", value: DB_USER },
                { name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: DB_SECRET, key: "password" } } },
                { name: "POSTGRES_DB", value: "postgres" },
                { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
              ],
              ports: [{ name: "postgres", containerPort: POSTGRES_PORT }],
              readinessProbe: { exec: { command: ["pg_isready", "-U", DB_USER, "-d", "postgres"] }, periodSeconds: 10, timeoutSeconds: 5 },
              resources: spec.postgres.resources,
              volumeMounts: [{ name: "data", mountPath: "/var/lib/postgresql/data" }],
            },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: "data" },
          spec: { accessModes: ["ReadWriteOnce"], storageClassName: spec.postgres.storageClassName, resources: { requests: { storage: `${spec.postgres.sizeGiB}Gi` } } },
        },
      ],
    },
  };
}

/**
 * The Temporal worker on every SLM worker VM: Guaranteed QoS with whole CPUs (requests ==
 * limits, an integer CPU count), so the kubelet's static CPU manager gives it cores of its own and
 * the sweeper is never starved by the model servers. /data/local in the container is the staging
 * disk's pods' directory (hostPath of type Directory, guest/data-mounts.ts: if the disk is not
 * mounted the directory does not exist and the pod waits instead of filling the OS disk).
 */
export function workerDaemonSet(spec: TemporalSpec): IDaemonSet {
  const labels = appLabels("temporal-worker", { partOf: "temporal", component: "worker" });
  const w = spec.worker;
  const resources = { requests: { cpu: w.cpu, memory: w.memory }, limits: { cpu: w.cpu, memory: w.memory } };
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "temporal-worker", namespace: spec.namespace, labels },
    spec: {
      selector: { matchLabels: appSelector("temporal-worker") },
      template: {
        metadata: { labels },
        spec: {
          nodeSelector: w.placement.nodeSelector,
          tolerations: w.placement.tolerations,
          containers: [
            {
              name: "worker",
              image: w.image,
              env: [
                { name: "TEMPORAL_ADDRESS", value: frontendAddress(spec) },
                { name: "TEMPORAL_NAMESPACE", value: w.temporalNamespace },
                { name: "STAGING_DIR", value: "/data/local" },
                { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
                ...Object.entries(w.env).map(([name, value]) => ({ name, value })),
              ],
              envFrom: [{ secretRef: { name: WORKER_S3_SECRET } }],
              resources,
              volumeMounts: [{ name: "staging", mountPath: "/data/local" }],
            },
          ],
          volumes: [{ name: "staging", hostPath: { path: w.hostPath, type: "Directory" } }],
        },
      },
    },
  };
}

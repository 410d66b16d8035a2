// The data lake's Kubernetes objects and chart values, as plain data: local PersistentVolumes on
// the data k8s node (the lake on the HDD, the hot tier on the SSD), the SeaweedFS chart's values,
// and the Job that creates the zone buckets with their versioning and lifecycle. No Pulumi here;
// components/DataLake.ts turns these into resources.
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IPersistentVolume } from "kubernetes-models/v1/PersistentVolume";
import type { IPersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import type { IService } from "kubernetes-models/v1/Service";
import type { IResourceRequirements } from "kubernetes-models/v1/ResourceRequirements";
import type { IStorageClass } from "kubernetes-models/storage.k8s.io/v1/StorageClass";
import { stringify } from "yaml";
import { IMAGES, SEAWEEDFS_TAG } from "./versions";
import type { PodPlacement } from "../k3s/layouts";

/** The lake's zones (docs/reference-layouts.md), in the order the documents list them. */
/** The lake PV's capacity when a stack does not say: the filesystem of an 8 TB HDD, in GiB. */
export const DEFAULT_LAKE_SIZE_GIB = 7450;

export const DEFAULT_ZONES = ["raw", "clean/bronze", "clean/silver", "clean/gold", "patterns", "archive", "staging", "models", "daily-prepared"] as const;

/**
 * A zone's bucket: its path with `/` as `-` (`clean/gold` -> `clean-gold`). One bucket per zone,
 * not prefixes of one bucket, because S3 versioning and lifecycle attach to a bucket: gold alone
 * is versioned and staging alone expires, so each must be a bucket of its own.
 */
export function bucketName(zone: string): string {
  return zone.replace(/\//g, "-");
}

/** The S3 engine's ports inside the pod (SeaweedFS defaults). */
export const S3_PORT = 8333;
export const MASTER_PORT = 9333;
/** The admin UI (the console): cluster, volumes, buckets, users, behind a login. */
export const ADMIN_PORT = 23646;

/** The console's login (keys `user`, `password`); the chart reads it (admin.secret.existingSecret). */
export const CONSOLE_SECRET = "seaweedfs-console";

/** What the lake's objects are built from: the component's args with defaults filled in. */
export interface LakeSpec {
  namespace: string;
  /** Helm release name; the chart names its Service `<release>-all-in-one`. */
  release: string;
  /** The k8s node that holds the disks (the data VM's name, or the data server's). */
  dataNodeName: string;
  /** The HDD: host path and PersistentVolume capacity (GiB). */
  lake: { path: string; sizeGiB: number };
  /** The SSD hot tier, or null where the data node has none. */
  hot: { path: string; sizeGiB: number } | null;
  storageClassName: string;
  zones: string[];
  /** Zones whose bucket keeps every version of an object. */
  versionedZones: string[];
  /** Zones whose bucket's new volumes go to the SSD (SeaweedFS disk type `ssd`). */
  hotZones: string[];
  /** Days after which an object in `staging` expires. */
  stagingExpiryDays: number;
  /** Days after which an unfinished multipart upload is aborted (every bucket). */
  abortMultipartDays: number;
  nodePorts: { api: number; console: number } | null;
  resources: IResourceRequirements;
  placement: PodPlacement;
}

/** The in-cluster Service the chart creates for the all-in-one pod. */
export function engineService(spec: Pick<LakeSpec, "release" | "namespace">): string {
  return `${spec.release}-all-in-one.${spec.namespace}.svc`;
}

/** The S3 endpoint consumers use inside the cluster. */
export function s3Endpoint(spec: Pick<LakeSpec, "release" | "namespace">): string {
  return `http://${engineService(spec)}:${S3_PORT}`;
}

/** Local volumes are bound to their k8s node and never provisioned: no provisioner, and binding
 * waits for the pod so the scheduler sees the PV's node affinity first. */
export function localStorageClass(name: string): IStorageClass {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name },
    provisioner: "kubernetes.io/no-provisioner",
    volumeBindingMode: "WaitForFirstConsumer",
    reclaimPolicy: "Retain",
  };
}

/** The claims the engine mounts, by role. */
export function claimName(role: "lake" | "hot"): string {
  return `seaweedfs-${role}`;
}

/**
 * A local PersistentVolume on `spec.dataNodeName` at `path`. Retain: deleting the stack or the
 * claim never deletes the disk's data (the VM layer's rule for data disks). The claimRef reserves
 * the PV for its one claim, so no other claim of the class can take the lake.
 */
export function localVolume(spec: LakeSpec, role: "lake" | "hot"): IPersistentVolume {
  const disk = role === "lake" ? spec.lake : spec.hot;
  if (!disk) throw new Error(`DataLake: no ${role} disk in this layout`);
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: `${spec.namespace}-${role}`, labels: { "numa-k3s.io/disk": role } },
    spec: {
      capacity: { storage: `${disk.sizeGiB}Gi` },
      accessModes: ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: spec.storageClassName,
      volumeMode: "Filesystem",
      local: { path: disk.path },
      claimRef: { namespace: spec.namespace, name: claimName(role) },
      nodeAffinity: {
        required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [spec.dataNodeName] }] }] },
      },
    },
  };
}

export function volumeClaim(spec: LakeSpec, role: "lake" | "hot"): IPersistentVolumeClaim {
  const disk = role === "lake" ? spec.lake : spec.hot;
  if (!disk) throw new Error(`DataLake: no ${role} disk in this layout`);
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: claimName(role), namespace: spec.namespace },
    spec: {
      accessModes: ["ReadWriteOnce"],
      storageClassName: spec.storageClassName,
      volumeName: `${spec.namespace}-${role}`,
      resources: { requests: { storage: `${disk.sizeGiB}Gi` } },
    },
  };
}

/** The engine's S3 identities file (`seaweedfs_s3_config`): one admin identity, the consumers'. */
export function s3IdentitiesJson(accessKey: string, secretKey: string): string {
  return JSON.stringify({
    identities: [{ name: "numa-k3s", credentials: [{ accessKey, secretKey }], actions: ["Admin", "Read", "Write", "List", "Tagging"] }],
  });
}

/** The Secret holding the identities file; the chart mounts it (allInOne.s3.existingConfigSecret). */
export const IDENTITIES_SECRET = "seaweedfs-s3-identities";

/**
 * Values for the seaweedfs chart: one all-in-one pod (master, volume, filer and S3 in one
 * process: one k8s node, no replication to coordinate, ~0.5-1 GiB) instead of four StatefulSets.
 * - `-dir=/data,/hot -volume.disk=hdd,ssd`: volumes on both disks, each tagged with its type, so
 *   a bucket can be sent to the SSD (`fs.configure -disk=ssd`, the hot tier);
 * - `-master.dir=/hot`: the master's Raft state and the filer's metadata (leveldb, the index of
 *   every object name) on the SSD, where small random writes belong;
 * - the console is the admin UI (its own small pod, behind a login from our Secret), not the
 *   filer's web UI, which reads and writes every object with no authentication at all;
 * - the chart's Services are ClusterIP: the NodePorts are Services of ours with only S3 and the
 *   console, not the master, volume and filer ports a NodePort chart Service would also open;
 * - the chart takes nodeSelector and tolerations as YAML text (it runs them through `tpl`).
 */
export function seaweedfsValues(spec: LakeSpec): Record<string, unknown> {
  const dirs = spec.hot ? "-dir=/data,/hot" : "-dir=/data";
  const disks = spec.hot ? "-volume.disk=hdd,ssd" : "-volume.disk=hdd";
  const extraArgs = [dirs, disks, ...(spec.hot ? ["-master.dir=/hot"] : [])];
  const nodeSelector = Object.keys(spec.placement.nodeSelector).length ? stringify(spec.placement.nodeSelector) : "";
  const tolerations = spec.placement.tolerations.length ? stringify(spec.placement.tolerations) : "";
  return {
    image: { tag: SEAWEEDFS_TAG },
    master: { enabled: false },
    volume: { enabled: false },
    filer: { enabled: false },
    allInOne: {
      enabled: true,
      replicas: 1,
      extraArgs,
      updateStrategy: { type: "Recreate" },
      s3: { enabled: true, enableAuth: true, existingConfigSecret: IDENTITIES_SECRET },
      service: { type: "ClusterIP" },
      data: { type: "existingClaim", claimName: claimName("lake") },
      ...(spec.hot
        ? {
            extraVolumes: stringify([{ name: "hot", persistentVolumeClaim: { claimName: claimName("hot") } }]),
            extraVolumeMounts: stringify([{ name: "hot", mountPath: "/hot" }]),
          }
        : {}),
      // The chart's default is a required anti-affinity over its own pods: meaningless with one.
      affinity: "",
      nodeSelector,
      tolerations,
      resources: spec.resources,
    },
    admin: {
      enabled: true,
      masters: `${spec.release}-all-in-one:${MASTER_PORT}`,
      secret: { existingSecret: CONSOLE_SECRET, userKey: "user", pwKey: "password" },
      affinity: "",
      nodeSelector,
      tolerations,
      resources: { requests: { cpu: "25m", memory: "64Mi" }, limits: { memory: "256Mi" } },
    },
  };
}

/** The engine pod's labels (the chart's selector for the all-in-one Deployment). */
export function enginePodLabels(release: string): Record<string, string> {
  return { "app.kubernetes.io/name": "seaweedfs", "app.kubernetes.io/instance": release, "app.kubernetes.io/component": "seaweedfs-all-in-one" };
}

/** The admin pod's labels (the chart's admin StatefulSet). */
export function consolePodLabels(release: string): Record<string, string> {
  return { "app.kubernetes.io/name": "seaweedfs", "app.kubernetes.io/instance": release, "app.kubernetes.io/component": "admin" };
}

/** S3 on `api` (the engine pod), the admin UI on `console` (the admin pod); none when off. */
export function nodePortServices(spec: LakeSpec): IService[] {
  if (!spec.nodePorts) return [];
  const service = (name: string, selector: Record<string, string>, port: number, nodePort: number): IService => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: spec.namespace },
    spec: { type: "NodePort", selector, ports: [{ name: "http", port, targetPort: port, nodePort, protocol: "TCP" }] },
  });
  return [
    service("s3-nodeport", enginePodLabels(spec.release), S3_PORT, spec.nodePorts.api),
    service("console-nodeport", consolePodLabels(spec.release), ADMIN_PORT, spec.nodePorts.console),
  ];
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The bucket script (POSIX sh, run by the aws CLI image): waits for S3, creates each zone's
 * bucket unless it exists, turns versioning on where asked, and sets each bucket's lifecycle
 * (staging expires; every bucket aborts stale multipart uploads). Converging: a rerun changes
 * nothing that is already so. Credentials and endpoint come from the environment (the Secret).
 */
export function bucketScript(spec: LakeSpec): string {
  const lines = [
    "#!/bin/sh",
    "# Creates the data lake's buckets, their versioning and lifecycle; safe to rerun.",
    "set -eu",
    ': "${AWS_ENDPOINT_URL:?the S3 endpoint}"',
    "s3() { aws --endpoint-url \"$AWS_ENDPOINT_URL\" s3api \"$@\"; }",
    "# The engine may still be starting (first pull, filer metadata replay): wait up to 10 minutes.",
    "attempt=0",
    "until s3 list-buckets >/dev/null 2>&1; do",
    "  attempt=$((attempt + 1))",
    "  if [ \"$attempt\" -ge 120 ]; then echo \"S3 at $AWS_ENDPOINT_URL did not answer in 600 s\" >&2; exit 1; fi",
    "  sleep 5",
    "done",
    "ensure_bucket() {",
    "  if s3 head-bucket --bucket \"$1\" >/dev/null 2>&1; then return 0; fi",
    "  s3 create-bucket --bucket \"$1\" >/dev/null",
    "  echo \"created bucket $1\"",
    "}",
  ];
  for (const zone of spec.zones) {
    const bucket = bucketName(zone);
    lines.push(`ensure_bucket ${shellQuote(bucket)}`);
    if (spec.versionedZones.includes(zone)) {
      lines.push(`s3 put-bucket-versioning --bucket ${shellQuote(bucket)} --versioning-configuration Status=Enabled`);
    }
    lines.push(`s3 put-bucket-lifecycle-configuration --bucket ${shellQuote(bucket)} --lifecycle-configuration ${shellQuote(JSON.stringify(lifecycle(spec, zone)))}`);
  }
  lines.push("echo \"buckets ready: " + spec.zones.map(bucketName).join(" ") + "\"");
  return lines.join("\n") + "\n";
}

/** A zone's lifecycle rules (S3 PutBucketLifecycleConfiguration JSON). */
export function lifecycle(spec: LakeSpec, zone: string): { Rules: Record<string, unknown>[] } {
  const rules: Record<string, unknown>[] = [
    { ID: "abort-stale-multipart", Status: "Enabled", Filter: { Prefix: "" }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: spec.abortMultipartDays } },
  ];
  if (zone === "staging") rules.push({ ID: "staging-expiry", Status: "Enabled", Filter: { Prefix: "" }, Expiration: { Days: spec.stagingExpiryDays } });
  return { Rules: rules };
}

/**
 * The hot-tier script (POSIX sh, run by the engine's own image, which ships `weed shell`): new
 * volumes of each hot zone's bucket go to the SSD. Waits for the master like the bucket script.
 */
export function hotTierScript(spec: LakeSpec): string {
  const master = `${spec.release}-all-in-one:${MASTER_PORT}`;
  const commands = spec.hotZones.map((zone) => `fs.configure -locationPrefix=/buckets/${bucketName(zone)}/ -disk=ssd -apply`);
  return [
    "#!/bin/sh",
    "# Sends the hot zones' buckets to the SSD volumes (disk type ssd); safe to rerun.",
    "set -eu",
    "attempt=0",
    `until printf '%s\\n' ${commands.map(shellQuote).join(" ")} | timeout 60 weed shell -master=${master}; do`,
    "  attempt=$((attempt + 1))",
    `  if [ "$attempt" -ge 120 ]; then echo "the SeaweedFS master ${master} did not answer in 600 s" >&2; exit 1; fi`,
    "  sleep 5",
    "done",
    "",
  ].join("\n");
}

/** The consumers' Secret's name (keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_REGION). */
export const CREDENTIALS_SECRET = "s3-credentials";

/**
 * The bucket Job: the hot-tier init container (when the node has an SSD), then the bucket
 * script. Its name carries a digest of both scripts, so a changed zone list runs a new Job
 * rather than patching a finished one (a Job's pod template is immutable).
 */
export function bucketJob(spec: LakeSpec, digest: string): IJob {
  const hot = spec.hot && spec.hotZones.length > 0;
  const small = { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: `lake-buckets-${digest}`, namespace: spec.namespace },
    spec: {
      backoffLimit: 6,
      template: {
        spec: {
          restartPolicy: "OnFailure",
          nodeSelector: spec.placement.nodeSelector,
          tolerations: spec.placement.tolerations,
          ...(hot ? { initContainers: [{ name: "hot-tier", image: IMAGES.seaweedfs, command: ["/bin/sh", "-c", hotTierScript(spec)], resources: small }] } : {}),
          containers: [
            {
              name: "buckets",
              image: IMAGES.awsCli,
              command: ["/bin/sh", "-c", bucketScript(spec)],
              envFrom: [{ secretRef: { name: CREDENTIALS_SECRET } }],
              env: [
                { name: "AWS_REQUEST_CHECKSUM_CALCULATION", value: "when_required" },
                { name: "AWS_RESPONSE_CHECKSUM_VALIDATION", value: "when_required" },
              ],
              resources: small,
            },
          ],
        },
      },
    },
  };
}

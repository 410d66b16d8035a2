// The data lake: an S3 endpoint on the data k8s node, objects on the HDD (/data/lake/numa-k3s),
// metadata and the hot zones on the SSD (/data/hot/numa-k3s), one bucket per zone. The engine (SeaweedFS, see
// platform/S3-ENGINES.md) stays behind these args and outputs: consumers get an endpoint and a
// Secret with AWS_* keys, nothing engine-specific.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { z } from "zod";
import { ABSOLUTE_PATH, ABSOLUTE_PATH_HINT } from "../common/formats";
import { DNS_LABEL, DNS_LABEL_HINT } from "../common/formats";
import { NodePortSchema, PodPlacementSchema, ResourcesSchema, argsError, digest, parseArgs } from "../platform/args";
import {
  CONSOLE_SECRET,
  CREDENTIALS_SECRET,
  DEFAULT_LAKE_SIZE_GIB,
  DEFAULT_ZONES,
  IDENTITIES_SECRET,
  LakeSpec,
  bucketJob,
  bucketName,
  bucketScript,
  hotTierScript,
  localStorageClass,
  localVolume,
  nodePortServices,
  s3Endpoint,
  s3IdentitiesJson,
  seaweedfsValues,
  volumeClaim,
} from "../platform/datalake";
import type { PodPlacement } from "../k3s/layouts";
import { POD_DIRS } from "../guest/data-mounts";
import { CHARTS } from "../platform/versions";

/** A kubernetes-models object as the provider's args: the same shape, but its quantities may be
 * numbers where @pulumi/kubernetes says string; the tests validate every object with the schema. */
const asArgs = <T>(object: object): T => object as T;

export interface DataLakeArgs {
  /** The cluster's one Kubernetes provider (K3sControlPlane.provider). */
  provider: k8s.Provider;
  /** The k8s node that holds /data/lake and /data/hot: the data VM's name (mac-numa
   * `k3s-minio-storage`, single `k3s-worker-data`) or the data server's (distributed). The
   * PersistentVolumes' node affinity; changing it REPLACES them (the data stays on the old node). */
  dataNodeName: string;
  /** Where the engine and its Job run: platformPlacement(layout).lake. */
  placement: PodPlacement;
  /** Namespace, created here. Default `storage`. */
  namespace?: string;
  /** The HDD: `path` default `/data/lake/numa-k3s` (guest/data-mounts.ts: it exists only on the
   * mounted filesystem, so without the disk the engine does not start instead of writing to the
   * OS disk); `sizeGiB` the PV's capacity (the filesystem's size is what counts; this is what the
   * scheduler matches). Default DEFAULT_LAKE_SIZE_GIB (7450, an 8 TB disk). */
  lake?: { path?: string; sizeGiB?: number };
  /** The SSD hot tier: `path` default `/data/hot/numa-k3s` (likewise), `sizeGiB` default 80;
   * `false` where the data node has no SSD (then metadata lives on the HDD and no zone is hot). */
  hot?: { path?: string; sizeGiB?: number } | false;
  /** StorageClass of the two local volumes, created here. Default `lake-local`. */
  storageClassName?: string;
  /** Zones (a bucket each, `/` -> `-`). Default raw, clean/bronze, clean/silver, clean/gold,
   * patterns, archive, staging, models, daily-prepared. */
  zones?: string[];
  /** Zones whose bucket is versioned. Default `clean/gold`. Versioning cannot be turned off again
   * (S3 suspends it), so removing a zone here leaves it versioned. */
  versionedZones?: string[];
  /** Zones whose new data goes to the SSD. Default `staging`, `daily-prepared`. */
  hotZones?: string[];
  /** Days until an object in `staging` expires. Default 7. */
  stagingExpiryDays?: number;
  /** Days until an unfinished multipart upload is aborted, every bucket. Default 2. */
  abortMultipartDays?: number;
  /** NodePorts: S3 API default 30900, console (SeaweedFS' admin UI, login in `consoleSecretName`)
   * default 30901; `false` for none (both stay reachable in the cluster). */
  nodePorts?: { api?: number; console?: number } | false;
  /** The engine pod's resources. Default requests 250m / 512Mi, limit memory 2Gi. */
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: { cpu?: string; memory?: string } };
}

const DiskSchema = z.object({ path: z.string().regex(ABSOLUTE_PATH, ABSOLUTE_PATH_HINT).optional(), sizeGiB: z.number().int().positive().optional() }).strict();
const ZoneSchema = z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\/[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, "lower-case words separated by '/'");

const ArgsSchema = z
  .object({
    dataNodeName: z.string().regex(DNS_LABEL, "a k8s node name (DNS label)"),
    placement: PodPlacementSchema,
    namespace: z.string().regex(DNS_LABEL, DNS_LABEL_HINT).optional(),
    lake: DiskSchema.optional(),
    hot: z.union([DiskSchema, z.literal(false)]).optional(),
    storageClassName: z.string().regex(DNS_LABEL, DNS_LABEL_HINT).optional(),
    zones: z.array(ZoneSchema).min(1).optional(),
    versionedZones: z.array(ZoneSchema).optional(),
    hotZones: z.array(ZoneSchema).optional(),
    stagingExpiryDays: z.number().int().min(1).optional(),
    abortMultipartDays: z.number().int().min(1).optional(),
    nodePorts: z.union([z.object({ api: NodePortSchema.optional(), console: NodePortSchema.optional() }).strict(), z.literal(false)]).optional(),
    resources: ResourcesSchema.optional(),
  })
  .strict();

/** The args with defaults filled in, checked; one line naming the field on a mistake. */
export function lakeSpec(name: string, args: Omit<DataLakeArgs, "provider">): LakeSpec {
  const a = parseArgs("DataLake", name, ArgsSchema, args);
  const zones = a.zones ?? [...DEFAULT_ZONES];
  const hot = a.hot === false ? null : { path: a.hot?.path ?? POD_DIRS.hot, sizeGiB: a.hot?.sizeGiB ?? 80 };
  const versionedZones = a.versionedZones ?? ["clean/gold"];
  const hotZones = hot ? (a.hotZones ?? ["staging", "daily-prepared"]) : [];
  for (const [field, list] of [["versionedZones", versionedZones], ["hotZones", hotZones]] as const) {
    const unknown = list.find((z) => !zones.includes(z));
    if (unknown) argsError("DataLake", name, field, unknown, `not one of zones (${zones.join(", ")})`);
  }
  if (a.hot === false && a.hotZones?.length) argsError("DataLake", name, "hotZones", a.hotZones, "hot zones need the hot tier (hot is false)");
  const buckets = zones.map(bucketName);
  const clash = buckets.find((b, i) => buckets.indexOf(b) !== i);
  if (clash) argsError("DataLake", name, "zones", clash, "two zones map to the same bucket");
  const ports = a.nodePorts === false ? null : { api: a.nodePorts?.api ?? 30900, console: a.nodePorts?.console ?? 30901 };
  if (ports && ports.api === ports.console) argsError("DataLake", name, "nodePorts", ports, "the API and console need different ports");
  return {
    namespace: a.namespace ?? "storage",
    release: "seaweedfs",
    dataNodeName: a.dataNodeName,
    lake: { path: a.lake?.path ?? POD_DIRS.lake, sizeGiB: a.lake?.sizeGiB ?? DEFAULT_LAKE_SIZE_GIB },
    hot,
    storageClassName: a.storageClassName ?? "lake-local",
    zones,
    versionedZones,
    hotZones,
    stagingExpiryDays: a.stagingExpiryDays ?? 7,
    abortMultipartDays: a.abortMultipartDays ?? 2,
    nodePorts: ports,
    resources: {
      requests: { cpu: a.resources?.requests?.cpu ?? "250m", memory: a.resources?.requests?.memory ?? "512Mi" },
      limits: { memory: a.resources?.limits?.memory ?? "2Gi", ...(a.resources?.limits?.cpu ? { cpu: a.resources.limits.cpu } : {}) },
    },
    placement: a.placement,
  };
}

/**
 * The lake. Children (`<name>-` prefixed): `ns`, `storage-class`, `pv-lake`/`pv-hot` and their
 * claims, `access-key`/`secret-key` (RandomPassword), `identities` (the engine's S3 users) and
 * `credentials` (the consumers' Secret), `console-password` and `console` (the admin UI's login),
 * `seaweedfs` (helm.v4.Chart), `s3-nodeport` and `console-nodeport`, `buckets` (Job).
 *
 * Decisions:
 * - The claims name their volume and the volumes their claim, so the lake binds to the HDD and
 *   nothing else; the StorageClass has no provisioner, so nothing is ever created on a wrong disk.
 * - The Job's name carries a digest of its scripts: a new zone runs a new Job; an unchanged one is
 *   no change at all.
 */
export class DataLake extends pulumi.ComponentResource {
  /** `http://<service>.<namespace>.svc:8333`, the S3 endpoint inside the cluster. */
  readonly endpoint: string;
  /** Namespace of the engine and of the credentials Secret. */
  readonly namespace: string;
  /** The Secret (in `namespace`) with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_REGION. */
  readonly credentialsSecretName: string;
  /** The credentials themselves, for consumers in other namespaces (their own Secret). Secret. */
  readonly credentials: pulumi.Output<{ accessKeyId: string; secretAccessKey: string }>;
  /** The Secret (in `namespace`) with the console's login, keys `user` and `password`. */
  readonly consoleSecretName: string;
  /** Zone -> bucket name. */
  readonly buckets: Record<string, string>;

  constructor(name: string, args: DataLakeArgs, opts?: pulumi.ComponentResourceOptions) {
    const { provider, ...plain } = args;
    const spec = lakeSpec(name, plain);
    super("numa-k3s:platform:DataLake", name, { dataNodeName: spec.dataNodeName, namespace: spec.namespace }, opts);
    const o = { parent: this, provider };

    this.namespace = spec.namespace;
    this.endpoint = s3Endpoint(spec);
    this.credentialsSecretName = CREDENTIALS_SECRET;
    this.consoleSecretName = CONSOLE_SECRET;
    this.buckets = Object.fromEntries(spec.zones.map((zone) => [zone, bucketName(zone)]));

    const ns = new k8s.core.v1.Namespace(`${name}-ns`, { metadata: { name: spec.namespace } }, o);
    const inNs = { ...o, dependsOn: [ns] };
    const sc = new k8s.storage.v1.StorageClass(`${name}-storage-class`, asArgs<k8s.storage.v1.StorageClassArgs>(localStorageClass(spec.storageClassName)), o);
    const roles = spec.hot ? (["lake", "hot"] as const) : (["lake"] as const);
    const claims = roles.map((role) => {
      // Deleting this object never touches the disk: the data is the node's filesystem, the
      // policy is Retain and no provisioner exists that could clean it. So no retainOnDelete: a
      // PV left behind (Released, bound to a dead claim's uid) would block the next create.
      const pv = new k8s.core.v1.PersistentVolume(`${name}-pv-${role}`, asArgs<k8s.core.v1.PersistentVolumeArgs>(localVolume(spec, role)), { ...o, dependsOn: [sc] });
      return new k8s.core.v1.PersistentVolumeClaim(`${name}-pvc-${role}`, asArgs<k8s.core.v1.PersistentVolumeClaimArgs>(volumeClaim(spec, role)), { ...inNs, dependsOn: [ns, pv] });
    });

    const accessKey = new random.RandomPassword(`${name}-access-key`, { length: 20, special: false, lower: false }, { parent: this });
    const secretKey = new random.RandomPassword(`${name}-secret-key`, { length: 40, special: false }, { parent: this });
    this.credentials = pulumi.secret(pulumi.all([accessKey.result, secretKey.result]).apply(([accessKeyId, secretAccessKey]) => ({ accessKeyId, secretAccessKey })));

    const identities = new k8s.core.v1.Secret(
      `${name}-identities`,
      {
        metadata: { name: IDENTITIES_SECRET, namespace: spec.namespace },
        stringData: pulumi.secret(this.credentials.apply((c) => ({ seaweedfs_s3_config: s3IdentitiesJson(c.accessKeyId, c.secretAccessKey) }))),
      },
      inNs,
    );
    const credentials = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { name: CREDENTIALS_SECRET, namespace: spec.namespace },
        stringData: pulumi.secret(
          this.credentials.apply((c) => ({ AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_ENDPOINT_URL: this.endpoint, AWS_REGION: "us-east-1" })),
        ),
      },
      inNs,
    );

    const consolePassword = new random.RandomPassword(`${name}-console-password`, { length: 24, special: false }, { parent: this });
    const consoleSecret = new k8s.core.v1.Secret(
      `${name}-console`,
      { metadata: { name: CONSOLE_SECRET, namespace: spec.namespace }, stringData: pulumi.secret(consolePassword.result.apply((password) => ({ user: "admin", password }))) },
      inNs,
    );

    const chart = new k8s.helm.v4.Chart(
      `${name}-seaweedfs`,
      {
        name: spec.release,
        namespace: spec.namespace,
        chart: CHARTS.seaweedfs.chart,
        version: CHARTS.seaweedfs.version,
        repositoryOpts: { repo: CHARTS.seaweedfs.repo },
        values: seaweedfsValues(spec),
      },
      { ...o, dependsOn: [ns, identities, consoleSecret, ...claims] },
    );

    for (const service of nodePortServices(spec)) new k8s.core.v1.Service(`${name}-${service.metadata!.name}`, asArgs<k8s.core.v1.ServiceArgs>(service), inNs);

    const scripts = bucketScript(spec) + (spec.hot ? hotTierScript(spec) : "");
    new k8s.batch.v1.Job(`${name}-buckets`, asArgs<k8s.batch.v1.JobArgs>(bucketJob(spec, digest(scripts))), { ...o, dependsOn: [chart, credentials], deleteBeforeReplace: true });

    this.registerOutputs({ endpoint: this.endpoint, namespace: this.namespace, credentialsSecretName: this.credentialsSecretName, consoleSecretName: this.consoleSecretName, buckets: this.buckets });
  }
}

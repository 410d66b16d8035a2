// Temporal: server and UI from the official chart (pinned), persistence on a small PostgreSQL
// StatefulSet of the official image, the default namespace registered, the UI on a NodePort, and
// the worker DaemonSet on the SLM worker VMs. Values and objects come from platform/temporal.ts.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { z } from "zod";
import { ABSOLUTE_PATH, ABSOLUTE_PATH_HINT } from "../common/formats";
import { DNS_LABEL, DNS_LABEL_HINT } from "../common/formats";
import { NodePortSchema, PodPlacementSchema, ResourcesSchema, argsError, parseArgs } from "../platform/args";
import type { PodPlacement } from "../k3s/layouts";
import { CHARTS } from "../platform/versions";
import { TEMPORAL_WORKER_REQUESTS } from "../platform/temporal-worker";
import { IMAGE_REFERENCE, PINNED_IMAGE_HINT, isPinnedImage } from "../common/formats";
import { POD_DIRS } from "../guest/data-mounts";
import {
  DB_SECRET,
  TemporalSpec,
  WORKER_S3_SECRET,
  frontendAddress,
  frontendService,
  postgresService,
  postgresStatefulSet,
  temporalValues,
  uiNodePortService,
  workerDaemonSet,
} from "../platform/temporal";

const asArgs = <T>(object: object): T => object as T;

export interface TemporalClusterArgs {
  /** The cluster's one Kubernetes provider (K3sControlPlane.provider). */
  provider: k8s.Provider;
  /** Where the server, UI and PostgreSQL run: platformPlacement(layout).platform. */
  placement: PodPlacement;
  /** Namespace, created here. Default `temporal`. */
  namespace?: string;
  /** History shards. Default 128 (enough for one small cluster, a quarter of the chart's 512 in
   * memory). Fixed when the database is first created: changing it later needs a new database. */
  numHistoryShards?: number;
  /** Namespaces to register, with retention. Default `default`, 3d. */
  namespaces?: { name: string; retention: string }[];
  /** The UI's NodePort. Default 30880; `false` for none. */
  uiNodePort?: number | false;
  /** PostgreSQL: volume GiB (default 5), storage class (default `local-path`), resources (default
   * requests 100m / 256Mi, limit 512Mi). */
  postgres?: { sizeGiB?: number; storageClassName?: string; resources?: { requests?: { cpu?: string; memory?: string }; limits?: { cpu?: string; memory?: string } } };
  /** The worker DaemonSet. */
  worker: {
    /** The worker's image, by tag or digest (`registry/name:tag`); `:latest` is refused. */
    image: string;
    /** Whole CPUs, requests == limits (Guaranteed, exclusive cores under the static CPU manager). Default 2. */
    cpus?: number;
    /** Memory, requests == limits. Default `4Gi`. */
    memory?: string;
    /** Where it runs: platformPlacement(layout).worker (role=worker, workload=slm). */
    placement: PodPlacement;
    /** The staging directory on the k8s node (`/data/local` in the container). Default
     * `/data/local/numa-k3s`: it exists only on the mounted staging disk (guest/data-mounts.ts). */
    hostPath?: string;
    /** The Temporal namespace it polls. Default the first of `namespaces`. */
    temporalNamespace?: string;
    /** More environment, plain (secrets go through `s3`). */
    env?: Record<string, string>;
  };
  /** The lake the worker writes to: DataLake.endpoint and DataLake.credentials. */
  s3: { endpoint: string; credentials: pulumi.Input<{ accessKeyId: string; secretAccessKey: string }> };
}

const ArgsSchema = z
  .object({
    placement: PodPlacementSchema,
    namespace: z.string().regex(DNS_LABEL, DNS_LABEL_HINT).optional(),
    numHistoryShards: z.number().int().min(1).max(16384).optional(),
    namespaces: z.array(z.object({ name: z.string().regex(DNS_LABEL, DNS_LABEL_HINT), retention: z.string().regex(/^[0-9]+[hd]$/, "hours or days, e.g. 3d") }).strict()).min(1).optional(),
    uiNodePort: z.union([NodePortSchema, z.literal(false)]).optional(),
    postgres: z.object({ sizeGiB: z.number().int().positive().optional(), storageClassName: z.string().regex(DNS_LABEL, DNS_LABEL_HINT).optional(), resources: ResourcesSchema.optional() }).strict().optional(),
    worker: z
      .object({
        image: z
          .string()
          .regex(IMAGE_REFERENCE, PINNED_IMAGE_HINT)
          .refine(isPinnedImage, PINNED_IMAGE_HINT),
        cpus: z.number().int().min(1).optional(),
        memory: z.string().regex(/^[0-9]+(Mi|Gi)$/, "Mi or Gi, e.g. 4Gi").optional(),
        placement: PodPlacementSchema,
        hostPath: z.string().regex(ABSOLUTE_PATH, ABSOLUTE_PATH_HINT).optional(),
        temporalNamespace: z.string().regex(DNS_LABEL, DNS_LABEL_HINT).optional(),
        env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name"), z.string()).optional(),
      })
      .strict(),
    s3: z.object({ endpoint: z.string().url(), credentials: z.unknown() }).strict(),
  })
  .strict();

/** The args with defaults filled in, checked; one line naming the field on a mistake. */
export function temporalSpec(name: string, args: Omit<TemporalClusterArgs, "provider">): TemporalSpec & { s3Endpoint: string } {
  const a = parseArgs("TemporalCluster", name, ArgsSchema, args);
  const namespaces = a.namespaces ?? [{ name: "default", retention: "3d" }];
  const temporalNamespace = a.worker.temporalNamespace ?? namespaces[0].name;
  if (!namespaces.some((n) => n.name === temporalNamespace))
    argsError("TemporalCluster", name, "worker.temporalNamespace", temporalNamespace, `not a registered namespace (${namespaces.map((n) => n.name).join(", ")})`);
  const reserved = ["TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "STAGING_DIR", "NODE_NAME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_REGION"];
  const clash = Object.keys(a.worker.env ?? {}).find((k) => reserved.includes(k));
  if (clash) argsError("TemporalCluster", name, `worker.env.${clash}`, a.worker.env?.[clash], "set by the component");
  const r = a.postgres?.resources;
  return {
    namespace: a.namespace ?? "temporal",
    release: "temporal",
    placement: a.placement,
    numHistoryShards: a.numHistoryShards ?? 128,
    namespaces,
    uiNodePort: a.uiNodePort === false ? null : (a.uiNodePort ?? 30880),
    postgres: {
      sizeGiB: a.postgres?.sizeGiB ?? 5,
      storageClassName: a.postgres?.storageClassName ?? "local-path",
      resources: {
        requests: { cpu: r?.requests?.cpu ?? "100m", memory: r?.requests?.memory ?? "256Mi" },
        limits: { memory: r?.limits?.memory ?? "512Mi", ...(r?.limits?.cpu ? { cpu: r.limits.cpu } : {}) },
      },
    },
    worker: {
      image: a.worker.image,
      cpu: String(a.worker.cpus ?? TEMPORAL_WORKER_REQUESTS.cpus),
      memory: a.worker.memory ?? `${TEMPORAL_WORKER_REQUESTS.memoryMiB}Mi`,
      placement: a.worker.placement,
      hostPath: a.worker.hostPath ?? POD_DIRS.staging,
      temporalNamespace,
      env: a.worker.env ?? {},
    },
    s3Endpoint: a.s3.endpoint,
  };
}

/**
 * Temporal. Children (`<name>-` prefixed): `ns`, `db-password` (RandomPassword), `db-secret`,
 * `postgres` (StatefulSet) and `postgres-svc`, `temporal` (helm.v4.Chart), `frontend` (the
 * `temporal` Service), `ui-nodeport`, `worker-s3` (Secret), `worker` (DaemonSet).
 *
 * Decisions:
 * - PostgreSQL is ours, not a chart's: one container of the official image is all a 4 GiB VM
 *   can spare, and it keeps the database's lifecycle out of Temporal's upgrades.
 * - The chart waits for PostgreSQL (dependsOn the StatefulSet, which Pulumi awaits until ready),
 *   so the schema Job does not start against a database that is not there.
 */
export class TemporalCluster extends pulumi.ComponentResource {
  /** `temporal.<namespace>.svc:7233`, what SDK clients dial. */
  readonly address: string;
  readonly namespace: string;

  constructor(name: string, args: TemporalClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    const { provider, ...plain } = args;
    const spec = temporalSpec(name, plain);
    super("numa-k3s:platform:TemporalCluster", name, { namespace: spec.namespace }, opts);
    const o = { parent: this, provider };
    this.namespace = spec.namespace;
    this.address = frontendAddress(spec);

    const ns = new k8s.core.v1.Namespace(`${name}-ns`, { metadata: { name: spec.namespace } }, o);
    const inNs = { ...o, dependsOn: [ns] };
    const password = new random.RandomPassword(`${name}-db-password`, { length: 32, special: false }, { parent: this });
    const dbSecret = new k8s.core.v1.Secret(
      `${name}-db-secret`,
      { metadata: { name: DB_SECRET, namespace: spec.namespace }, stringData: pulumi.secret(password.result.apply((p) => ({ password: p }))) },
      inNs,
    );
    const pgService = new k8s.core.v1.Service(`${name}-postgres-svc`, asArgs<k8s.core.v1.ServiceArgs>(postgresService(spec)), inNs);
    const postgres = new k8s.apps.v1.StatefulSet(`${name}-postgres`, asArgs<k8s.apps.v1.StatefulSetArgs>(postgresStatefulSet(spec)), { ...o, dependsOn: [ns, dbSecret, pgService] });

    const chart = new k8s.helm.v4.Chart(
      `${name}-temporal`,
      {
        name: spec.release,
        namespace: spec.namespace,
        chart: CHARTS.temporal.chart,
        version: CHARTS.temporal.version,
        repositoryOpts: { repo: CHARTS.temporal.repo },
        values: temporalValues(spec),
      },
      { ...o, dependsOn: [ns, dbSecret, postgres] },
    );
    new k8s.core.v1.Service(`${name}-frontend`, asArgs<k8s.core.v1.ServiceArgs>(frontendService(spec)), inNs);
    const ui = uiNodePortService(spec);
    if (ui) new k8s.core.v1.Service(`${name}-ui-nodeport`, asArgs<k8s.core.v1.ServiceArgs>(ui), inNs);

    const s3Secret = new k8s.core.v1.Secret(
      `${name}-worker-s3`,
      {
        metadata: { name: WORKER_S3_SECRET, namespace: spec.namespace },
        stringData: pulumi.secret(
          pulumi.output(args.s3.credentials).apply((c) => ({ AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_ENDPOINT_URL: spec.s3Endpoint, AWS_REGION: "us-east-1" })),
        ),
      },
      inNs,
    );
    new k8s.apps.v1.DaemonSet(`${name}-worker`, asArgs<k8s.apps.v1.DaemonSetArgs>(workerDaemonSet(spec)), { ...o, dependsOn: [ns, s3Secret, chart] });
    this.registerOutputs({ address: this.address, namespace: this.namespace });
  }
}

// Monitoring and logs: VictoriaMetrics and VictoriaLogs single (official charts, pinned), vmagent
// scraping the kubelets, cAdvisor, node-exporter on every k8s node and the hypervisors'
// node_exporter, vmalert with the NUMA / pinning / staging / disk rules, and the log collector on
// every k8s node. Values and objects come from platform/victoria.ts.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { z } from "zod";
import { ABSOLUTE_PATH, ABSOLUTE_PATH_HINT } from "../common/formats";
import { DNS_LABEL, DNS_LABEL_HINT } from "../common/formats";
import { NodePortSchema, PodPlacementSchema, ResourcesSchema, argsError, parseArgs } from "../platform/args";
import type { PodPlacement } from "../k3s/layouts";
import { CHARTS, ChartRef } from "../platform/versions";
import {
  AlertThresholds,
  DEFAULT_THRESHOLDS,
  VictoriaSpec,
  agentValues,
  alertValues,
  collectorValues,
  logsUrl,
  logsValues,
  metricsUrl,
  metricsValues,
  nodeExporterDaemonSet,
} from "../platform/victoria";

const asArgs = <T>(object: object): T => object as T;

export interface VictoriaStackArgs {
  /** The cluster's one Kubernetes provider (K3sControlPlane.provider). */
  provider: k8s.Provider;
  /** Where the stores, vmagent and vmalert run: platformPlacement(layout).platform. */
  placement: PodPlacement;
  /** Where node-exporter and the log collector run. Default every k8s node (tolerates every taint). */
  agentsPlacement?: PodPlacement;
  /** Namespace, created here. Default `monitoring`. */
  namespace?: string;
  /** VictoriaMetrics: retention (`30d`, `12w`, `1y`; default `30d`), volume GiB (default 20),
   * resources (default requests 100m / 256Mi, limit 768Mi). A bigger size resizes the claim
   * where the class allows it; a smaller one is refused by Kubernetes. */
  metrics?: { retention?: string; sizeGiB?: number; resources?: Resources };
  /** VictoriaLogs: retention (default `14d`), volume GiB (default 10), resources (default
   * requests 50m / 128Mi, limit 512Mi). */
  logs?: { retention?: string; sizeGiB?: number; resources?: Resources };
  /** Storage class of both claims. Default `local-path` (K3s' provisioner, the node's OS disk). */
  storageClassName?: string;
  /** NodePorts: VictoriaMetrics default 30828, VictoriaLogs default 30428; `false` for ClusterIP only. */
  nodePorts?: { metrics?: number; logs?: number } | false;
  /** The NUMA hosts' node_exporter (Debian's package, with --collector.meminfo_numa and the
   * textfile directory the pinning collector writes): name (the topology's host), address, port
   * (default 9100). */
  hypervisors?: { name: string; address: string; port?: number }[];
  /** Alert thresholds. Defaults: NUMA miss ratio 0.01, staging 10 GB / 30 GB, disks 0.7 / 0.9. */
  thresholds?: Partial<AlertThresholds>;
  /** The workers' staging mount point the staging rules watch. Default `/data/local`. */
  stagingMountPoint?: string;
}

type Resources = { requests?: { cpu?: string; memory?: string }; limits?: { cpu?: string; memory?: string } };

const RETENTION = z.string().regex(/^[0-9]+[hdwy]$/, "a number and h, d, w or y (e.g. 30d)");
const StoreSchema = z.object({ retention: RETENTION.optional(), sizeGiB: z.number().int().positive().optional(), resources: ResourcesSchema.optional() }).strict();
const Ratio = z.number().gt(0).lt(1);
const ArgsSchema = z
  .object({
    placement: PodPlacementSchema,
    agentsPlacement: PodPlacementSchema.optional(),
    namespace: z.string().regex(DNS_LABEL, DNS_LABEL_HINT).optional(),
    metrics: StoreSchema.optional(),
    logs: StoreSchema.optional(),
    storageClassName: z.string().regex(DNS_LABEL, DNS_LABEL_HINT).optional(),
    nodePorts: z.union([z.object({ metrics: NodePortSchema.optional(), logs: NodePortSchema.optional() }).strict(), z.literal(false)]).optional(),
    hypervisors: z
      .array(z.object({ name: z.string().regex(DNS_LABEL, DNS_LABEL_HINT), address: z.string().min(1).regex(/^[^\s:/]+$/, "a host name or IPv4 address"), port: z.number().int().min(1).max(65535).optional() }).strict())
      .optional(),
    thresholds: z
      .object({
        numaMissRatio: Ratio.optional(),
        stagingWarnBytes: z.number().positive().optional(),
        stagingCriticalBytes: z.number().positive().optional(),
        diskWarnRatio: Ratio.optional(),
        diskCriticalRatio: Ratio.optional(),
      })
      .strict()
      .optional(),
    stagingMountPoint: z.string().regex(ABSOLUTE_PATH, ABSOLUTE_PATH_HINT).optional(),
  })
  .strict();

const withDefaults = (r: Resources | undefined, cpu: string, memory: string, limit: string) => ({
  requests: { cpu: r?.requests?.cpu ?? cpu, memory: r?.requests?.memory ?? memory },
  limits: { memory: r?.limits?.memory ?? limit, ...(r?.limits?.cpu ? { cpu: r.limits.cpu } : {}) },
});

/** The args with defaults filled in, checked; one line naming the field on a mistake. */
export function victoriaSpec(name: string, args: Omit<VictoriaStackArgs, "provider">): VictoriaSpec {
  const a = parseArgs("VictoriaStack", name, ArgsSchema, args);
  const thresholds = { ...DEFAULT_THRESHOLDS, ...a.thresholds };
  if (thresholds.stagingWarnBytes >= thresholds.stagingCriticalBytes)
    argsError("VictoriaStack", name, "thresholds.stagingWarnBytes", thresholds.stagingWarnBytes, `the warning must be below the critical threshold (${thresholds.stagingCriticalBytes})`);
  if (thresholds.diskWarnRatio >= thresholds.diskCriticalRatio)
    argsError("VictoriaStack", name, "thresholds.diskWarnRatio", thresholds.diskWarnRatio, `the warning must be below the critical threshold (${thresholds.diskCriticalRatio})`);
  const hostNames = (a.hypervisors ?? []).map((h) => h.name);
  const dup = hostNames.find((h, i) => hostNames.indexOf(h) !== i);
  if (dup) argsError("VictoriaStack", name, "hypervisors", dup, "two hypervisors with one name");
  const ports = a.nodePorts === false ? null : { metrics: a.nodePorts?.metrics ?? 30828, logs: a.nodePorts?.logs ?? 30428 };
  if (ports && ports.metrics === ports.logs) argsError("VictoriaStack", name, "nodePorts", ports, "metrics and logs need different ports");
  return {
    namespace: a.namespace ?? "monitoring",
    placement: a.placement,
    everyNode: a.agentsPlacement ?? { nodeSelector: {}, tolerations: [{ operator: "Exists" }] },
    metrics: { retention: a.metrics?.retention ?? "30d", sizeGiB: a.metrics?.sizeGiB ?? 20, resources: withDefaults(a.metrics?.resources, "100m", "256Mi", "768Mi") },
    logs: { retention: a.logs?.retention ?? "14d", sizeGiB: a.logs?.sizeGiB ?? 10, resources: withDefaults(a.logs?.resources, "50m", "128Mi", "512Mi") },
    storageClassName: a.storageClassName ?? "local-path",
    nodePorts: ports,
    hypervisors: (a.hypervisors ?? []).map((h) => ({ name: h.name, address: h.address, port: h.port ?? 9100 })),
    thresholds,
    stagingMountPoint: a.stagingMountPoint ?? "/data/local",
  };
}

/** The releases, by child name suffix: chart and values. */
export function victoriaReleases(spec: VictoriaSpec): { suffix: string; release: string; chart: ChartRef; values: Record<string, unknown> }[] {
  return [
    { suffix: "metrics", release: "victoria-metrics", chart: CHARTS.victoriaMetricsSingle, values: metricsValues(spec) },
    { suffix: "logs", release: "victoria-logs", chart: CHARTS.victoriaLogsSingle, values: logsValues(spec) },
    { suffix: "vmagent", release: "vmagent", chart: CHARTS.vmagent, values: agentValues(spec) },
    { suffix: "vmalert", release: "vmalert", chart: CHARTS.vmalert, values: alertValues(spec) },
    { suffix: "log-collector", release: "log-collector", chart: CHARTS.logsCollector, values: collectorValues(spec) },
  ];
}

/**
 * The monitoring stack. Children (`<name>-` prefixed): `ns`, `metrics`, `logs`, `vmagent`,
 * `vmalert`, `log-collector` (helm.v4.Chart each), `node-exporter` (DaemonSet).
 *
 * Decisions:
 * - VictoriaMetrics scrapes nothing itself; vmagent does, so scraping and storage scale apart
 *   and the scrape config is one place.
 * - node-exporter is a typed DaemonSet, not another chart: one container, and its host mounts
 *   are exactly what the staging and disk rules rely on.
 */
export class VictoriaStack extends pulumi.ComponentResource {
  /** `http://victoriametrics.<namespace>.svc:8428` (Prometheus API, remote write). */
  readonly metricsUrl: string;
  /** `http://victorialogs.<namespace>.svc:9428`. */
  readonly logsUrl: string;
  readonly namespace: string;

  constructor(name: string, args: VictoriaStackArgs, opts?: pulumi.ComponentResourceOptions) {
    const { provider, ...plain } = args;
    const spec = victoriaSpec(name, plain);
    super("numa-k3s:platform:VictoriaStack", name, { namespace: spec.namespace }, opts);
    const o = { parent: this, provider };
    this.namespace = spec.namespace;
    this.metricsUrl = metricsUrl(spec.namespace);
    this.logsUrl = logsUrl(spec.namespace);

    const ns = new k8s.core.v1.Namespace(`${name}-ns`, { metadata: { name: spec.namespace } }, o);
    const charts: Record<string, k8s.helm.v4.Chart> = {};
    for (const r of victoriaReleases(spec)) {
      // The agents write to the stores: they come after them, so a first install does not start
      // with a burst of failed remote writes.
      const after = r.suffix === "metrics" || r.suffix === "logs" ? [] : r.suffix === "log-collector" ? [charts.logs] : [charts.metrics];
      charts[r.suffix] = new k8s.helm.v4.Chart(
        `${name}-${r.suffix}`,
        { name: r.release, namespace: spec.namespace, chart: r.chart.chart, version: r.chart.version, repositoryOpts: { repo: r.chart.repo }, values: r.values },
        { ...o, dependsOn: [ns, ...after] },
      );
    }
    new k8s.apps.v1.DaemonSet(`${name}-node-exporter`, asArgs<k8s.apps.v1.DaemonSetArgs>(nodeExporterDaemonSet(spec)), { ...o, dependsOn: [ns] });
    this.registerOutputs({ metricsUrl: this.metricsUrl, logsUrl: this.logsUrl, namespace: this.namespace });
  }
}

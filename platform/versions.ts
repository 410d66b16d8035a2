// Every upstream chart and image the platform deploys, pinned in one place. A user changes a
// version here (or through a component's args) and nowhere else; tests read the same constants to
// find the chart's own values.yaml (test/fixtures/charts/<chart>-<version>/).

/** A Helm chart at a pinned version, from its publisher's repository. */
export interface ChartRef {
  chart: string;
  version: string;
  repo: string;
}

/**
 * The charts, each verified against its public repository (SOURCES.txt next to the fixtures says
 * at which commit):
 * - seaweedfs 4.44.0: seaweedfs/seaweedfs k8s/charts/seaweedfs at tag 4.44 (appVersion 4.44).
 * - VictoriaMetrics charts: VictoriaMetrics/helm-charts@5823471 (test/fixtures/charts).
 * - temporal 1.6.0: temporalio/helm-charts@e51b734 (server 1.31.2, UI 2.52.0).
 */
export const CHARTS = {
  seaweedfs: { chart: "seaweedfs", version: "4.44.0", repo: "https://seaweedfs.github.io/seaweedfs/helm" },
  victoriaMetricsSingle: { chart: "victoria-metrics-single", version: "0.45.0", repo: "https://victoriametrics.github.io/helm-charts/" },
  victoriaLogsSingle: { chart: "victoria-logs-single", version: "0.13.9", repo: "https://victoriametrics.github.io/helm-charts/" },
  vmagent: { chart: "victoria-metrics-agent", version: "0.46.0", repo: "https://victoriametrics.github.io/helm-charts/" },
  vmalert: { chart: "victoria-metrics-alert", version: "0.47.0", repo: "https://victoriametrics.github.io/helm-charts/" },
  logsCollector: { chart: "victoria-logs-collector", version: "0.3.7", repo: "https://victoriametrics.github.io/helm-charts/" },
  temporal: { chart: "temporal", version: "1.6.0", repo: "https://go.temporal.io/helm-charts" },
} as const satisfies Record<string, ChartRef>;

/**
 * Images the program runs itself (not through a chart's defaults), by tag:
 * - seaweedfs: the engine's own image at the chart's appVersion (also runs `weed shell` in the
 *   bucket Job, so the shell speaks the server's protocol version).
 * - awsCli: 2.22.35, the last release before the CLI's default CRC64 trailing checksums (2.23.0,
 *   January 2025), which S3-compatible servers reject unevenly; the Job also sets
 *   AWS_REQUEST_CHECKSUM_CALCULATION=when_required.
 * - postgres: the official image, PostgreSQL 17 (Temporal's postgres12 plugin covers 12+).
 * - nodeExporter: Prometheus' own image; the DaemonSet on every k8s node.
 */
export const IMAGES = {
  seaweedfs: "chrislusf/seaweedfs:4.44",
  awsCli: "amazon/aws-cli:2.22.35",
  postgres: "postgres:17.6-bookworm",
  nodeExporter: "quay.io/prometheus/node-exporter:v1.9.1",
} as const;

/** The SeaweedFS image tag the chart is told to run (its appVersion). */
export const SEAWEEDFS_TAG = IMAGES.seaweedfs.split(":")[1];

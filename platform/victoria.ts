// Monitoring as plain data: chart values for VictoriaMetrics and VictoriaLogs single, vmagent,
// vmalert (with the NUMA, pinning, staging and disk rules), the log collector, node-exporter on
// every k8s node, and the hypervisors' textfile collector that puts each domain's live pinning
// next to the plan's. No Pulumi here; components/VictoriaStack.ts makes the resources.
import { appLabels, appSelector } from "../common/k8s-labels";
import type { IDaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import type { IResourceRequirements } from "kubernetes-models/v1/ResourceRequirements";
import type { VmPlacement } from "../topology/placement";
import { IMAGES } from "./versions";
import type { PodPlacement } from "../k3s/layouts";

/** A NUMA host's node_exporter (the Debian package), scraped from the cluster. */
export interface HypervisorTarget {
  /** The host's name (topology's `host`), the `host` label of its series. */
  name: string;
  /** Address vmagent reaches it at. */
  address: string;
  /** node_exporter's port. Default 9100. */
  port: number;
}

export interface AlertThresholds {
  /** numa_miss / (numa_hit + numa_miss) over 10 minutes, per host and node, above which we warn. */
  numaMissRatio: number;
  /** Bytes on a worker's staging disk (/data/local): warning, critical. */
  stagingWarnBytes: number;
  stagingCriticalBytes: number;
  /** Used fraction of any real filesystem: warning, critical. */
  diskWarnRatio: number;
  diskCriticalRatio: number;
}

export const DEFAULT_THRESHOLDS: AlertThresholds = {
  numaMissRatio: 0.01,
  stagingWarnBytes: 10e9,
  stagingCriticalBytes: 30e9,
  diskWarnRatio: 0.7,
  diskCriticalRatio: 0.9,
};

export interface VictoriaSpec {
  namespace: string;
  placement: PodPlacement;
  everyNode: PodPlacement;
  /** Retention as VictoriaMetrics takes it (`30d`, `12w`, `1y`). */
  metrics: { retention: string; sizeGiB: number; resources: IResourceRequirements };
  logs: { retention: string; sizeGiB: number; resources: IResourceRequirements };
  /** Storage class of the two PersistentVolumeClaims (K3s' `local-path`: the node's OS disk). */
  storageClassName: string;
  nodePorts: { metrics: number; logs: number } | null;
  hypervisors: HypervisorTarget[];
  thresholds: AlertThresholds;
  /** Where staging lives on a worker (a mount point node-exporter reports). */
  stagingMountPoint: string;
}

/** In-cluster names (docs/reference-layouts.md: victoriametrics.monitoring:8428, victorialogs.monitoring:9428). */
export const METRICS_SERVICE = "victoriametrics";
export const LOGS_SERVICE = "victorialogs";
export const METRICS_PORT = 8428;
export const LOGS_PORT = 9428;
export const NODE_EXPORTER_PORT = 9100;

export function metricsUrl(namespace: string): string {
  return `http://${METRICS_SERVICE}.${namespace}.svc:${METRICS_PORT}`;
}
export function logsUrl(namespace: string): string {
  return `http://${LOGS_SERVICE}.${namespace}.svc:${LOGS_PORT}`;
}

const service = (nodePort: number | undefined) => (nodePort === undefined ? { type: "ClusterIP" } : { type: "NodePort", nodePort });

/** victoria-metrics-single: the store; it scrapes nothing itself (vmagent does). */
export function metricsValues(spec: VictoriaSpec): Record<string, unknown> {
  return {
    server: {
      fullnameOverride: METRICS_SERVICE,
      retentionPeriod: spec.metrics.retention,
      persistentVolume: { enabled: true, size: `${spec.metrics.sizeGiB}Gi`, storageClassName: spec.storageClassName },
      resources: spec.metrics.resources,
      nodeSelector: spec.placement.nodeSelector,
      tolerations: spec.placement.tolerations,
      service: service(spec.nodePorts?.metrics),
      scrape: { enabled: false },
    },
  };
}

/** victoria-logs-single: the log store, fed by the collector. */
export function logsValues(spec: VictoriaSpec): Record<string, unknown> {
  return {
    server: {
      fullnameOverride: LOGS_SERVICE,
      retentionPeriod: spec.logs.retention,
      persistentVolume: { enabled: true, size: `${spec.logs.sizeGiB}Gi`, storageClassName: spec.storageClassName },
      resources: spec.logs.resources,
      nodeSelector: spec.placement.nodeSelector,
      tolerations: spec.placement.tolerations,
      service: service(spec.nodePorts?.logs),
    },
  };
}

/**
 * vmagent's jobs beyond the chart's own. The chart's default scrape_configs stay as they are (we
 * set `config.global` only; Helm replaces lists but merges maps): they scrape the kubelets and
 * cAdvisor on every k8s node (kubernetes-nodes, kubernetes-nodes-cadvisor), the API server, and
 * every pod or Service annotated prometheus.io/scrape (the SLM model servers among them). Added:
 * - node-exporter on every k8s node, at the node's InternalIP (the DaemonSet is on the host
 *   network, not annotated, so the pods job does not scrape it twice);
 * - each hypervisor's node_exporter (static: the NUMA hosts are not k8s nodes), `host` = the
 *   topology's host name, so the pinning series match the plan's.
 */
export function extraScrapeConfigs(spec: VictoriaSpec): Record<string, unknown>[] {
  const jobs: Record<string, unknown>[] = [
    {
      job_name: "node-exporter",
      kubernetes_sd_configs: [{ role: "node" }],
      relabel_configs: [
        { source_labels: ["__meta_kubernetes_node_address_InternalIP"], target_label: "__address__", replacement: `$1:${NODE_EXPORTER_PORT}` },
        { source_labels: ["__meta_kubernetes_node_name"], target_label: "node" },
      ],
    },
  ];
  if (spec.hypervisors.length > 0) {
    jobs.push({
      job_name: "hypervisor",
      // The textfile series carry their own `host` (the plan's host name): keep it, not exported_host.
      honor_labels: true,
      static_configs: spec.hypervisors.map((h) => ({ targets: [`${h.address}:${h.port}`], labels: { host: h.name } })),
    });
  }
  return jobs;
}

export function agentValues(spec: VictoriaSpec): Record<string, unknown> {
  return {
    remoteWrite: [{ url: `${metricsUrl(spec.namespace)}/api/v1/write` }],
    config: { global: { scrape_interval: "30s" } },
    extraScrapeConfigs: extraScrapeConfigs(spec),
    resources: { requests: { cpu: "50m", memory: "96Mi" }, limits: { memory: "256Mi" } },
    nodeSelector: spec.placement.nodeSelector,
    tolerations: spec.placement.tolerations,
  };
}

/** One alerting rule (vmalert's Prometheus-compatible format). */
export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: "warning" | "critical" };
  annotations: { summary: string };
}

/** Only filesystems on real disks: not tmpfs, overlay or the container runtime's mounts. */
const REAL_FS = 'fstype=~"ext4|xfs|btrfs",mountpoint!~"/run.*|/var/lib/(kubelet|rancher).*"';

/**
 * The rules, by what they protect:
 * - NUMA: a host node whose allocations miss it (numa_miss counts pages allocated here that were
 *   meant for another node), from node_exporter's meminfo_numa collector on the hypervisor;
 * - pinning: the textfile collector's live pins against the plan's (same host, domain, kind,
 *   vCPU, cpuset); a series in one and not the other is a drift, for running domains only;
 * - staging: bytes used on the workers' staging disk, warning and critical;
 * - disks: used fraction of every real filesystem, warning and critical.
 */
export function alertRules(spec: VictoriaSpec): AlertRule[] {
  const t = spec.thresholds;
  const pinKey = "instance, host, domain, kind, vcpu, cpuset";
  const used = `(1 - node_filesystem_avail_bytes{${REAL_FS}} / node_filesystem_size_bytes{${REAL_FS}})`;
  const stagingUsed = `(node_filesystem_size_bytes{mountpoint="${spec.stagingMountPoint}"} - node_filesystem_avail_bytes{mountpoint="${spec.stagingMountPoint}"})`;
  const gb = (bytes: number) => `${bytes / 1e9} GB`;
  return [
    {
      alert: "NumaMissRatioHigh",
      expr: `rate(node_memory_numa_numa_miss_total{job="hypervisor"}[10m]) / (rate(node_memory_numa_numa_hit_total{job="hypervisor"}[10m]) + rate(node_memory_numa_numa_miss_total{job="hypervisor"}[10m])) > ${t.numaMissRatio}`,
      for: "15m",
      labels: { severity: "warning" },
      annotations: { summary: `NUMA miss ratio of {{ $labels.host }} node {{ $labels.node }} is {{ $value | humanizePercentage }} (above ${t.numaMissRatio * 100} %)` },
    },
    {
      alert: "PinningDiffersFromPlan",
      expr:
        `((numa_k3s_pin{source="plan"} unless on(${pinKey}) numa_k3s_pin{source="live"}) or (numa_k3s_pin{source="live"} unless on(${pinKey}) numa_k3s_pin{source="plan"}))` +
        ` and on(instance, host, domain) numa_k3s_domain_running == 1`,
      for: "5m",
      labels: { severity: "critical" },
      annotations: { summary: "{{ $labels.domain }} on {{ $labels.host }}: {{ $labels.kind }} {{ $labels.vcpu }} is {{ $labels.cpuset }} in the {{ $labels.source }} pinning only" },
    },
    {
      alert: "StagingAboveWarning",
      expr: `${stagingUsed} > ${t.stagingWarnBytes}`,
      for: "10m",
      labels: { severity: "warning" },
      annotations: { summary: `staging on {{ $labels.node }} holds {{ $value | humanize1024 }}B (above ${gb(t.stagingWarnBytes)})` },
    },
    {
      alert: "StagingAboveCritical",
      expr: `${stagingUsed} > ${t.stagingCriticalBytes}`,
      for: "5m",
      labels: { severity: "critical" },
      annotations: { summary: `staging on {{ $labels.node }} holds {{ $value | humanize1024 }}B (above ${gb(t.stagingCriticalBytes)})` },
    },
    {
      alert: "DiskUsageWarning",
      expr: `${used} > ${t.diskWarnRatio}`,
      for: "15m",
      labels: { severity: "warning" },
      annotations: { summary: `{{ $labels.mountpoint }} on {{ $labels.instance }} is {{ $value | humanizePercentage }} full (above ${t.diskWarnRatio * 100} %)` },
    },
    {
      alert: "DiskUsageCritical",
      expr: `${used} > ${t.diskCriticalRatio}`,
      for: "5m",
      labels: { severity: "critical" },
      annotations: { summary: `{{ $labels.mountpoint }} on {{ $labels.instance }} is {{ $value | humanizePercentage }} full (above ${t.diskCriticalRatio * 100} %)` },
    },
  ];
}

/** vmalert reads VictoriaMetrics, writes its alert state back, and notifies the chart's own
 * Alertmanager (receivers are the operator's to add). */
export function alertValues(spec: VictoriaSpec): Record<string, unknown> {
  const placed = { nodeSelector: spec.placement.nodeSelector, tolerations: spec.placement.tolerations };
  return {
    server: {
      datasource: { url: metricsUrl(spec.namespace) },
      remoteWrite: { url: metricsUrl(spec.namespace) },
      remoteRead: { url: metricsUrl(spec.namespace) },
      config: { alerts: { groups: [{ name: "numa-k3s", rules: alertRules(spec) }] } },
      resources: { requests: { cpu: "20m", memory: "48Mi" }, limits: { memory: "128Mi" } },
      ...placed,
    },
    alertmanager: {
      enabled: true,
      retention: "120h",
      resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "96Mi" } },
      ...placed,
    },
  };
}

/**
 * What the two per-node agents (the log collector and node-exporter) ask for. Memory only, no CPU
 * request, on purpose: an SLM VM's allocatable CPUs are all handed out as whole exclusive cores
 * (the models and the Temporal worker, slm/capacity.ts), so any CPU request, even 20m, leaves a
 * model or the agent itself Pending. Without one they run in the shared pool, which always holds
 * the reserved system core (reservedSystemCPUs), at the lowest CPU weight: scraping and shipping
 * logs wait for the OS and the kubelet, never take a model's core.
 */
export const NODE_AGENT_RESOURCES = {
  collector: { requests: { memory: "48Mi" }, limits: { memory: "192Mi" } },
  nodeExporter: { requests: { memory: "32Mi" }, limits: { memory: "96Mi" } },
} as const satisfies Record<string, IResourceRequirements>;

/** The per-node agents as a neighbour of the models on every SLM VM (slm/capacity.ts NodeNeighbour). */
export const NODE_AGENTS = { name: "monitoring agents", cpu: 0, memoryMiB: 48 + 32 };

/** victoria-logs-collector: every k8s node's container logs into VictoriaLogs. */
export function collectorValues(spec: VictoriaSpec): Record<string, unknown> {
  return {
    remoteWrite: [{ url: logsUrl(spec.namespace) }],
    resources: NODE_AGENT_RESOURCES.collector,
    nodeSelector: spec.everyNode.nodeSelector,
    tolerations: spec.everyNode.tolerations,
  };
}

/**
 * node-exporter on every k8s node (the VMs and the data server): host network and PID namespace
 * and the host's root read-only at /host, so filesystems show with their host mount points
 * (/data/local, /data/lake) and the staging and disk rules can name them.
 */
export function nodeExporterDaemonSet(spec: VictoriaSpec): IDaemonSet {
  const labels = appLabels("node-exporter", { partOf: "monitoring", component: "metrics-exporter" });
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "node-exporter", namespace: spec.namespace, labels },
    spec: {
      selector: { matchLabels: appSelector("node-exporter") },
      template: {
        metadata: { labels },
        spec: {
          hostNetwork: true,
          hostPID: true,
          nodeSelector: spec.everyNode.nodeSelector,
          tolerations: spec.everyNode.tolerations,
          securityContext: { runAsNonRoot: true, runAsUser: 65534 },
          containers: [
            {
              name: "node-exporter",
              image: IMAGES.nodeExporter,
              // No meminfo_numa here: a guest sees one NUMA node; NUMA misses are measured on the hosts.
              args: ["--path.rootfs=/host", `--web.listen-address=:${NODE_EXPORTER_PORT}`],
              ports: [{ name: "metrics", containerPort: NODE_EXPORTER_PORT }],
              resources: NODE_AGENT_RESOURCES.nodeExporter,
              volumeMounts: [{ name: "root", mountPath: "/host", readOnly: true, mountPropagation: "HostToContainer" }],
            },
          ],
          volumes: [{ name: "root", hostPath: { path: "/" } }],
        },
      },
    },
  };
}

/** The textfile the collector writes (Debian's prometheus-node-exporter reads this directory). */
export const TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";

/**
 * The hypervisor's pinning collector (bash, run by a timer on the NUMA host): for every planned
 * domain on `host`, one `numa_k3s_pin` series per vCPU pin, emulator pin and numatune, once with
 * source="plan" (rendered here from the placement) and once with source="live" (read with virsh),
 * and `numa_k3s_domain_running`. CPU lists are normalized (ranges expanded, sorted, commas) on
 * both sides, so equal sets give equal label values. Written to a temporary file and renamed, so
 * node_exporter never reads half a file.
 */
export function pinningCollectorScript(host: string, vms: VmPlacement[], uri = "qemu:///system"): string {
  const planned = vms.filter((vm) => vm.host === host);
  const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  const planLines: string[] = [];
  for (const vm of planned) {
    const d = esc(vm.name);
    vm.vcpupin.forEach((cpu, i) => planLines.push(`numa_k3s_pin{host="${host}",domain="${d}",kind="vcpu",vcpu="${i}",cpuset="${cpu}",source="plan"} 1`));
    planLines.push(`numa_k3s_pin{host="${host}",domain="${d}",kind="emulator",vcpu="",cpuset="${[...vm.emulatorpin].sort((a, b) => a - b).join(",")}",source="plan"} 1`);
    planLines.push(
      `numa_k3s_pin{host="${host}",domain="${d}",kind="numatune-${vm.numatune.mode}",vcpu="",cpuset="${[...vm.numatune.nodeset].sort((a, b) => a - b).join(",")}",source="plan"} 1`,
    );
  }
  const domains = planned.map((vm) => `'${vm.name.replace(/'/g, "")}'`).join(" ");
  return `#!/usr/bin/env bash
# numa-k3s pinning collector for ${host}: live vcpupin/emulatorpin/numatune next to the plan's,
# for node_exporter's textfile collector. Rendered by platform/victoria.ts; do not edit here.
set -euo pipefail
uri="\${VIRSH_URI:-${uri}}"
dir="\${NUMA_K3S_TEXTFILE_DIR:-${TEXTFILE_DIR}}"
host=${JSON.stringify(host)}
out="$dir/numa-k3s-pinning.prom"
tmp="$(mktemp "$dir/.numa-k3s-pinning.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

# "0-2,36" -> "0,1,2,36": libvirt prints ranges, the plan lists threads.
normalize() {
  local part lo hi i
  local -a parts threads=()
  IFS=',' read -r -a parts <<<"$1"
  for part in "\${parts[@]}"; do
    part="\${part// /}"
    [ -z "$part" ] && continue
    if [[ $part == *-* ]]; then
      lo="\${part%-*}"; hi="\${part#*-}"
      for ((i = lo; i <= hi; i++)); do threads+=("$i"); done
    else
      threads+=("$part")
    fi
  done
  printf '%s\\n' "\${threads[@]}" | sort -n -u | paste -sd, -
}

{
  echo "# HELP numa_k3s_pin A pin of a domain: plan (from the placement) or live (virsh)."
  echo "# TYPE numa_k3s_pin gauge"
  cat <<'PLAN'
${planLines.join("\n")}
PLAN
  echo "# HELP numa_k3s_domain_running 1 if the planned domain is running."
  echo "# TYPE numa_k3s_domain_running gauge"
  for domain in ${domains}; do
    if [ "$(virsh -c "$uri" domstate "$domain" 2>/dev/null || true)" != "running" ]; then
      echo "numa_k3s_domain_running{host=\\"$host\\",domain=\\"$domain\\"} 0"
      continue
    fi
    echo "numa_k3s_domain_running{host=\\"$host\\",domain=\\"$domain\\"} 1"
    # " 0      0,36" per vCPU, after a two-line header.
    virsh -c "$uri" vcpupin "$domain" | awk 'NR > 2 && NF >= 2 {print $1, $2}' | while read -r vcpu cpus; do
      echo "numa_k3s_pin{host=\\"$host\\",domain=\\"$domain\\",kind=\\"vcpu\\",vcpu=\\"$vcpu\\",cpuset=\\"$(normalize "$cpus")\\",source=\\"live\\"} 1"
    done
    # "        *: 17,53" after a two-line header.
    cpus="$(virsh -c "$uri" emulatorpin "$domain" | awk -F': *' 'NR > 2 && NF >= 2 {print $2; exit}')"
    echo "numa_k3s_pin{host=\\"$host\\",domain=\\"$domain\\",kind=\\"emulator\\",vcpu=\\"\\",cpuset=\\"$(normalize "$cpus")\\",source=\\"live\\"} 1"
    # "numa_mode      : strict" and "numa_nodeset   : 0".
    mode="$(virsh -c "$uri" numatune "$domain" | awk -F' *: *' '$1 == "numa_mode" {print $2}')"
    nodes="$(virsh -c "$uri" numatune "$domain" | awk -F' *: *' '$1 == "numa_nodeset" {print $2}')"
    echo "numa_k3s_pin{host=\\"$host\\",domain=\\"$domain\\",kind=\\"numatune-$mode\\",vcpu=\\"\\",cpuset=\\"$(normalize "$nodes")\\",source=\\"live\\"} 1"
  done
} >"$tmp"
chmod 0644 "$tmp"
mv "$tmp" "$out"
trap - EXIT
`;
}

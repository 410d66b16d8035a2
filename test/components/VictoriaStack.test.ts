import * as k8s from "@pulumi/kubernetes";
import { platformPlacement } from "../../k3s/layouts";
import type { VictoriaStackArgs } from "../../components/VictoriaStack";
import { CHARTS } from "../../platform/versions";
import { schemaErrors } from "../k8s-schema";
import { chartDefaults } from "../platform/chart-values";
import { charts, k8sObjects, settled, startPlatformMocks } from "../platform/platform-mocks";

async function deploy(args: Omit<VictoriaStackArgs, "provider">) {
  startPlatformMocks();
  const { VictoriaStack } = await import("../../components/VictoriaStack");
  const provider = new k8s.Provider("k8s", { kubeconfig: "apiVersion: v1\nkind: Config\n" });
  const stack = new VictoriaStack("mon", { provider, ...args });
  const resources = await settled();
  const byRelease = Object.fromEntries(charts(resources).map((c) => [c.name.replace(/^mon-/, ""), c]));
  return { stack, resources, byRelease };
}

const macNuma = (): Omit<VictoriaStackArgs, "provider"> => ({
  placement: platformPlacement("mac-numa").platform,
  metrics: { retention: "90d", sizeGiB: 15 },
  logs: { retention: "7d", sizeGiB: 8 },
  hypervisors: [{ name: "numa-01", address: "192.168.50.10" }],
});

describe("VictoriaStack", () => {
  it("installs the five pinned official charts", async () => {
    const { byRelease } = await deploy(macNuma());
    expect(Object.fromEntries(Object.entries(byRelease).map(([k, c]) => [k, `${c.chart}@${c.version} ${c.repo}`]))).toEqual({
      metrics: "victoria-metrics-single@0.45.0 https://victoriametrics.github.io/helm-charts/",
      logs: "victoria-logs-single@0.13.9 https://victoriametrics.github.io/helm-charts/",
      vmagent: "victoria-metrics-agent@0.46.0 https://victoriametrics.github.io/helm-charts/",
      vmalert: "victoria-metrics-alert@0.47.0 https://victoriametrics.github.io/helm-charts/",
      "log-collector": "victoria-logs-collector@0.3.7 https://victoriametrics.github.io/helm-charts/",
    });
  });

  it("mac-numa: the stores, vmagent and vmalert select the server (numa-k3s.io/role=server) and tolerate the control-plane taint; the agents go everywhere", async () => {
    const { byRelease, resources } = await deploy(macNuma());
    const master = { nodeSelector: { "numa-k3s.io/role": "server" }, tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }] };
    const v = (r: string) => byRelease[r].values as any;
    for (const placed of [v("metrics").server, v("logs").server, v("vmagent"), v("vmalert").server, v("vmalert").alertmanager]) {
      expect({ nodeSelector: placed.nodeSelector, tolerations: placed.tolerations }).toEqual(master);
    }
    expect(v("log-collector").tolerations).toEqual([{ operator: "Exists" }]);
    const ds = k8sObjects(resources).find((o) => o.kind === "DaemonSet") as any;
    expect(ds.spec.template.spec.tolerations).toEqual([{ operator: "Exists" }]);
    expect(ds.spec.template.spec.hostNetwork).toBe(true);
  });

  it("retention, sizes and NodePorts 30828 / 30428 from the args reach the charts; the log collector writes to VictoriaLogs", async () => {
    const { byRelease } = await deploy(macNuma());
    const m = (byRelease.metrics.values as any).server;
    const l = (byRelease.logs.values as any).server;
    expect([m.retentionPeriod, m.persistentVolume.size, m.service]).toEqual(["90d", "15Gi", { type: "NodePort", nodePort: 30828 }]);
    expect([l.retentionPeriod, l.persistentVolume.size, l.service]).toEqual(["7d", "8Gi", { type: "NodePort", nodePort: 30428 }]);
    expect((byRelease["log-collector"].values as any).remoteWrite).toEqual([{ url: "http://victorialogs.monitoring.svc:9428" }]);
    const off = await deploy({ ...macNuma(), nodePorts: false });
    expect((off.byRelease.metrics.values as any).server.service).toEqual({ type: "ClusterIP" });
  });

  it("vmagent keeps the chart's own jobs (kubelets, cAdvisor, annotated pods) and adds node-exporter on every k8s node and each hypervisor on 9100", async () => {
    const { byRelease } = await deploy(macNuma());
    const agent = byRelease.vmagent.values as any;
    expect(agent.remoteWrite).toEqual([{ url: "http://victoriametrics.monitoring.svc:8428/api/v1/write" }]);
    // A list in values replaces the chart's whole list: the defaults survive only if we set none.
    expect(agent.config).toEqual({ global: { scrape_interval: "30s" } });
    const defaults = chartDefaults(CHARTS.vmagent) as any;
    expect(defaults.config.scrape_configs.map((j: { job_name: string }) => j.job_name)).toEqual(expect.arrayContaining(["kubernetes-nodes", "kubernetes-nodes-cadvisor", "kubernetes-pods"]));
    expect(defaults.config.scrape_configs.find((j: any) => j.job_name === "kubernetes-nodes-cadvisor").metrics_path).toBe("/metrics/cadvisor");
    const jobs = agent.extraScrapeConfigs as any[];
    expect(jobs.map((j) => j.job_name)).toEqual(["node-exporter", "hypervisor"]);
    expect(jobs[1].static_configs).toEqual([{ targets: ["192.168.50.10:9100"], labels: { host: "numa-01" } }]);
    // No job of ours shadows one of the chart's (vmagent refuses duplicate job names).
    const defaultNames = defaults.config.scrape_configs.map((j: { job_name: string }) => j.job_name);
    expect(jobs.filter((j) => defaultNames.includes(j.job_name))).toEqual([]);
  });

  it("vmalert has the NUMA, pinning, staging (10 / 30 GB) and disk (70 / 90 %) rules, thresholds from the args", async () => {
    const { byRelease } = await deploy({ ...macNuma(), thresholds: { numaMissRatio: 0.02 } });
    const rules = (byRelease.vmalert.values as any).server.config.alerts.groups[0].rules as { alert: string; expr: string; labels: { severity: string } }[];
    const by = Object.fromEntries(rules.map((r) => [r.alert, r]));
    expect(by.NumaMissRatioHigh.expr).toMatch(/^rate\(node_memory_numa_numa_miss_total\{job="hypervisor"\}\[10m\]\).*> 0.02$/);
    expect(by.PinningDiffersFromPlan.expr).toContain('numa_k3s_pin{source="plan"} unless on(instance, host, domain, kind, vcpu, cpuset) numa_k3s_pin{source="live"}');
    expect(by.StagingAboveWarning.expr).toMatch(/mountpoint="\/data\/local".*> 10000000000$/);
    expect(by.StagingAboveCritical.expr).toMatch(/> 30000000000$/);
    expect([by.StagingAboveWarning.labels.severity, by.StagingAboveCritical.labels.severity]).toEqual(["warning", "critical"]);
    expect(by.DiskUsageWarning.expr).toMatch(/> 0.7$/);
    expect(by.DiskUsageCritical.expr).toMatch(/> 0.9$/);
  });

  it("every Kubernetes object validates against the API schema", async () => {
    const { resources } = await deploy(macNuma());
    const objects = k8sObjects(resources);
    expect(objects.map((o) => o.kind).sort()).toEqual(["DaemonSet", "Namespace"]);
    expect(schemaErrors(objects)).toEqual([]);
  });

  it("refuses what a user could mistype, in one line naming the field", async () => {
    const { victoriaSpec } = await import("../../components/VictoriaStack");
    expect(() => victoriaSpec("mon", { ...macNuma(), metrics: { retention: "30 days" } })).toThrow(/^VictoriaStack 'mon': metrics.retention = "30 days": a number and h, d, w or y/);
    expect(() => victoriaSpec("mon", { ...macNuma(), thresholds: { stagingWarnBytes: 40e9 } })).toThrow(/^VictoriaStack 'mon': thresholds.stagingWarnBytes = 40000000000: the warning must be below/);
    expect(() => victoriaSpec("mon", { ...macNuma(), hypervisors: [{ name: "numa-01", address: "http://10.0.0.5" }] })).toThrow(/hypervisors.0.address = "http:\/\/10.0.0.5"/);
  });
});

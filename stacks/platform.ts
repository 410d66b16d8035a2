// The platform every layout runs on its cluster, where the layout puts it (platform/placement.ts):
// the S3 lake over the data k8s node's disks, monitoring with the hypervisors as scrape targets,
// and Temporal with its worker beside the models. All through the control plane's one provider.
import { DataLake } from "../components/DataLake";
import { TemporalCluster } from "../components/TemporalCluster";
import { VictoriaStack } from "../components/VictoriaStack";
import { LAYOUT_PROFILES } from "../k3s/layouts";
import { InputError } from "../common/user-error";
import { Cluster } from "./cluster";
import { StackInputs } from "./stack-inputs";

export interface Platform {
  lake: DataLake;
  monitoring: VictoriaStack;
  temporal: TemporalCluster;
}

export function platformOf(inputs: StackInputs, cluster: Cluster): Platform {
  const cfg = inputs.config;
  const profile = LAYOUT_PROFILES[cfg.layout];
  const placement = profile.pods;
  const provider = cluster.controlPlane.provider;
  // The data k8s node: the VM with workload data, or where the layout allows it the server (a
  // bare-metal data server).
  const dataVm = cfg.vms.find((vm) => vm.workload === "data");
  const dataNodeName = dataVm?.name ?? (profile.dataNode === "the data VM, else the server" ? cfg.k3s.server?.name : undefined);
  if (!dataNodeName) throw new InputError(`${inputs.file}: numa-k3s:vms: no VM has workload: data, so the data lake has no disks to live on`);
  // The lake's volumes name the data k8s node: it must have joined first.
  const dataAgent = dataVm ? cluster.agentOf[dataVm.name] : undefined;
  const lake = new DataLake(
    "lake",
    {
      provider,
      dataNodeName,
      placement: placement.lake,
      lake: { sizeGiB: cfg.platform.lake.sizeGiB },
      // The data VM's SSD disk, or (distributed) the data server's own /data/hot.
      hot: dataVm ? (dataVm.disks.hotGiB ? { sizeGiB: dataVm.disks.hotGiB } : false) : {},
      stagingExpiryDays: cfg.platform.lake.stagingExpiryDays,
    },
    { dependsOn: dataAgent ? [dataAgent] : [cluster.controlPlane] },
  );
  const monitoring = new VictoriaStack("monitoring", {
    provider,
    placement: placement.platform,
    agentsPlacement: placement.everyNode,
    metrics: { retention: cfg.platform.monitoring.metricsRetention },
    logs: { retention: cfg.platform.monitoring.logsRetention },
    hypervisors: cfg.hosts.map((h) => ({ name: h.name, address: h.ssh.address })),
  });
  const temporal = new TemporalCluster("temporal", {
    provider,
    placement: placement.platform,
    worker: { image: cfg.platform.temporal.workerImage, placement: placement.worker },
    s3: { endpoint: lake.endpoint, credentials: lake.credentials },
  });
  return { lake, monitoring, temporal };
}

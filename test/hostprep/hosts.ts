// The three hosts the host-preparation tests are written against, declared once: the documents'
// reference host with the single stack's locked plan, a two-socket EPYC capture with huge-page
// VMs of both sizes, and a POWER8 capture with SMT8.
import { join, resolve } from "node:path";
import { readTopologies } from "../../stacks/placement-inputs";
import { readStackInputs } from "../../stacks/stack-inputs";
import { HostPrep, HostPrepSchema } from "../../hostprep/config";
import { HostSettings, hostSettings } from "../../hostprep/settings";
import type { HostTopology } from "../../topology/host-topology";
import type { PlacementLock } from "../../topology/lock";
import type { Plan } from "../../topology/placement";
import { planPlacement } from "../../topology/planner";
import { PlacementRequest, PlacementRequestSchema } from "../../topology/request";

export const PROJECT = resolve(__dirname, "../..");
const CAPTURES = join(PROJECT, "test/fixtures/capabilities");

export const LIBVIRT = { uri: "qemu:///system", poolDir: "/var/lib/libvirt/images/numa-k3s", baseImage: "/var/lib/libvirt/images/debian-12-genericcloud-amd64.qcow2", bridge: "br0" };

export interface PlannedHost {
  plan: Plan;
  topology: HostTopology;
  settings(prep?: Partial<HostPrep>): HostSettings;
}

function planned(request: PlacementRequest, topologies: Map<string, HostTopology>, lock?: PlacementLock): PlannedHost {
  const outcome = planPlacement({ request, topologies, lock });
  if (outcome.kind !== "placed") throw new Error(`does not place: ${outcome.problems.map((p) => p.message).join("; ")}`);
  const plan = outcome.plan;
  const hostPlan = plan.hosts[0];
  const topology = topologies.get(hostPlan.name)!;
  return {
    plan,
    topology,
    settings: (prep = {}) => hostSettings(topology, hostPlan, plan.vms, HostPrepSchema.parse(prep), LIBVIRT),
  };
}

/** The documents' host with the single stack as committed: Pulumi.single.yaml and its lock. */
export function referenceSingle(): PlannedHost {
  const inputs = readStackInputs(PROJECT, "single");
  return planned(inputs.request, inputs.topologies, inputs.lock);
}

function fromCapture(file: string, vms: unknown[], reserve = { coresPerNode: 1, memoryGiBPerNode: 1 }): PlannedHost {
  const request = PlacementRequestSchema.parse({ hosts: [{ name: "host-a", capabilities: file, reserve }], vms });
  return planned(request, readTopologies(request, CAPTURES));
}

/** Two EPYC sockets, one node each (NPS1), 16 cores x 2 threads per socket (synthetic page pools:
 * 2M and 1G pages on both nodes, and 1-2 GiB of ordinary memory: every VM takes huge pages). */
export function epyc(): PlannedHost {
  return fromCapture("amd-epyc-2s-4dies-per-socket-resctrl-libvirt.xml", [
    { name: "db-1g", node: 0, cores: 4, memoryGiB: 8, hugepages: "1G" },
    { name: "cache-2m", node: 1, cores: 2, memoryGiB: 4, hugepages: "2M" },
    { name: "web-1g", node: 1, cores: 6, memoryGiB: 16, hugepages: "1G" },
  ]);
}

/** POWER8, two nodes of 6 cores x 8 threads (SMT8), no 2M or 1G pages: ordinary memory only. */
export function power(): PlannedHost {
  return fromCapture("power8-ppc64le-2node-smt8-virtmanager.xml", [
    { name: "p-0", node: 0, cores: 2, memoryGiB: 8 },
    { name: "p-1", node: 1, cores: 3, memoryGiB: 8 },
  ]);
}

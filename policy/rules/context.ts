// Where the rules get the hardware from: the committed captures the stack names, with each host's
// reserve. For a preview, from the stack's own config file (read as the program reads it); for a
// render directory, from its plan.json (the hosts and captures it was planned on).
import { resolve } from "node:path";
import { readCapabilities } from "../../topology/capabilities";
import { hostBudgets } from "../../topology/node-budget";
import type { HostPlan, Plan } from "../../topology/placement";
import { hostOf } from "../../topology/request";
import { readStackInputs } from "../../stacks/stack-inputs";
import type { PolicyContext } from "./model";

/** The stack of a resource URN (`urn:pulumi:<stack>::<project>::<type>::<name>`). */
export function stackOfUrn(urn: string): string | undefined {
  return /^urn:pulumi:([^:]+)::/.exec(urn)?.[1];
}

/** The context of stack `stack` from Pulumi.<stack>.yaml in `projectDir`: the same reading as
 * `npm run plan -- --stack` (captures relative to the project, reserves with their defaults). */
export function contextFromStack(projectDir: string, stack: string): PolicyContext {
  const inputs = readStackInputs(projectDir, stack);
  return {
    hosts: inputs.request.hosts.map((h) => ({ name: h.name, topology: inputs.topologies.get(h.name)!, reserve: h.reserve })),
    hostOfVm: new Map(inputs.request.vms.map((vm) => [vm.name, hostOf(inputs.request, vm)])),
    numaOfVm: new Map(inputs.request.vms.map((vm) => [vm.name, vm.numa])),
  };
}

/**
 * The reserve a host was planned with, from what plan.json says it kept: the fewest cores per node
 * whose reserved threads are exactly the plan's on every node, and the node's reserveKiB. Read
 * back rather than trusted as a number, so that a capture and a plan that disagree are an error.
 */
function reserveOf(host: HostPlan, topology: ReturnType<typeof readCapabilities>): { coresPerNode: number; memoryGiBPerNode: number } {
  const memoryGiBPerNode = (host.nodes[0]?.reserveKiB ?? 0) / 1048576;
  const most = Math.max(0, ...topology.nodes.map((n) => n.cores.length));
  for (let coresPerNode = 0; coresPerNode <= most; coresPerNode++) {
    const budgets = hostBudgets(topology, { coresPerNode, memoryGiBPerNode });
    const same = budgets.every((b) => {
      const want = host.nodes.find((n) => n.id === b.node.id)?.reservedThreads ?? [];
      const got = b.reservedCores.flatMap((c) => c.threads).sort((x, y) => x - y);
      return got.join(",") === [...want].sort((x, y) => x - y).join(",");
    });
    if (same) return { coresPerNode, memoryGiBPerNode };
  }
  throw new Error(`plan.json: host ${host.name}: its reserved threads match no reserve of ${topology.source}`);
}

/** The context of a render from its plan.json; captures are relative to `projectDir`. */
export function contextFromPlan(projectDir: string, plan: Plan): PolicyContext {
  return {
    hosts: plan.hosts.map((h) => {
      const topology = readCapabilities(resolve(projectDir, h.capabilities));
      return { name: h.name, topology, reserve: reserveOf(h, topology) };
    }),
    hostOfVm: new Map(plan.vms.map((vm) => [vm.name, vm.host])),
    numaOfVm: new Map(plan.vms.map((vm) => [vm.name, vm.node === null ? "floating" : "strict"])),
  };
}

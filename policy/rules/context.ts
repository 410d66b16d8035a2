// What the rules judge against: the placement the stack decided, read from the project's committed
// files (topology/stack-placement.ts: the stack file, the lock, the captures), the same for a
// preview (the pack) and a render directory (`npm run check`). Each VM's place is the plan's: the
// lock's placement, or for a VM not locked yet the planner's, planned here with the lock exactly
// as the program plans it (a locked VM keeps its threads, so this is the lock wherever there is one).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import YAML from "yaml";
import { InputError } from "../../common/user-error";
import { unlockedVms } from "../../topology/lock";
import { planPlacement } from "../../topology/planner";
import { readStackPlacement } from "../../topology/stack-placement";
import type { DecidedVm, PolicyContext } from "./model";

/** The stack and project of a resource URN (`urn:pulumi:<stack>::<project>::<type>::<name>`). */
export function stackOfUrn(urn: string): { stack: string; project: string } | undefined {
  const m = /^urn:pulumi:([^:]+)::([^:]+)::/.exec(urn);
  return m ? { stack: m[1], project: m[2] } : undefined;
}

/** The project's name in its Pulumi.yaml: the prefix of its config keys. */
function projectName(projectDir: string): string {
  const file = resolve(projectDir, "Pulumi.yaml");
  let doc: { name?: unknown } | null;
  try {
    doc = YAML.parse(readFileSync(file, "utf8")) as { name?: unknown } | null;
  } catch (e) {
    throw new InputError(`${file}: cannot read the project file (${(e as Error).message.split("\n")[0]}); run from the project directory or name it (--project DIR, projectDir)`);
  }
  if (typeof doc?.name !== "string") throw new InputError(`${file}: has no name: the prefix of the stack's config keys`);
  return doc.name;
}

/** The context of stack `stack` of the project in `projectDir` (its config keys under `project:`). */
export function contextFromStack(projectDir: string, stack: string, project = projectName(projectDir)): PolicyContext {
  const s = readStackPlacement(projectDir, stack, project);
  const outcome = planPlacement({ request: s.request, topologies: s.topologies, lock: s.lock, searchSeconds: s.searchSeconds });
  const lockVms = s.lock?.vms ?? [];
  const vms = new Map<string, DecidedVm>();
  let undecided: string | null = null;
  if (outcome.kind === "placed") {
    const unlocked = new Set(unlockedVms(outcome.plan, s.lock).map((p) => p.name));
    for (const p of outcome.plan.vms) vms.set(p.name, { name: p.name, placement: p, locked: !unlocked.has(p.name), workload: "", role: "agent" });
  } else {
    undecided = `${s.file}: its VMs do not fit (${outcome.problems[0].message.split("\n")[0]}; npm run plan -- --stack ${stack} says more)`;
  }
  // The lock's VMs that are not planned (the stack dropped them, or it did not fit) keep their place.
  for (const p of lockVms) if (!vms.has(p.name)) vms.set(p.name, { name: p.name, placement: p, locked: true, workload: "", role: "agent" });
  for (const vm of s.request.vms) {
    const entry = s.vmEntries.get(vm.name) ?? {};
    const known = vms.get(vm.name) ?? { name: vm.name, placement: null, locked: false, workload: "", role: "agent" as const };
    vms.set(vm.name, { ...known, workload: String(entry.workload ?? ""), role: entry.k3sRole === "server" ? "server" : "agent" });
  }
  return {
    stackFile: s.file,
    lockFile: s.lockFile,
    hosts: s.request.hosts.map((h) => ({ name: h.name, topology: s.topologies.get(h.name)!, reserve: h.reserve })),
    request: s.request,
    vms,
    undecided,
  };
}

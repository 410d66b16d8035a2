// The pack judges the domain XML by reading it back into a VmPlacement: for every VM the product
// renders, the placement read back is the one it was rendered from, so what invariants.ts judges
// is what libvirt is sent.
import { resolve } from "node:path";
import { renderDomainXml } from "../../topology/domain-xml";
import { hostBudgets } from "../../topology/node-budget";
import { planPlacement } from "../../topology/planner";
import { PlacementRequestSchema } from "../../topology/request";
import { readCapabilities } from "../../topology/capabilities";
import { domainSpecOf } from "../../hypervisor/vm-description";
import { vmDescriptions } from "../../stacks/numa-vms";
import { placeRequest } from "../../stacks/place-stack";
import { readStackInputs } from "../../stacks/stack-inputs";
import { readDomain } from "../../policy/rules/domain-placement";
import { checkPlacements, checkConsoles } from "../../policy/rules/placement-rules";
import type { PolicyContext } from "../../policy/rules/model";

const ROOT = resolve(__dirname, "../..");
const CAPTURE = "hosts/reference-2x-e5-2697v4.capabilities.xml";

function reserved(topology: ReturnType<typeof readCapabilities>, coresPerNode: number): Set<number> {
  return new Set(hostBudgets(topology, { coresPerNode, memoryGiBPerNode: 4 }).flatMap((b) => b.reservedCores.flatMap((c) => c.threads)));
}

describe("readDomain", () => {
  test.each(["single", "mac-numa", "distributed"])("every VM of stack %s reads back as the placement it was rendered from", (stack) => {
    const inputs = readStackInputs(ROOT, stack);
    const placed = placeRequest(inputs, inputs.lock, inputs.lockFile);
    if (placed.kind !== "placed") throw new Error(placed.lines.join("\n"));
    for (const vm of vmDescriptions(inputs, placed.plan)) {
      const host = inputs.request.hosts.find((h) => h.name === vm.placement.host)!;
      const topology = inputs.topologies.get(host.name)!;
      const read = readDomain(renderDomainXml(vm.placement, domainSpecOf(vm)), host.name, topology, reserved(topology, host.reserve.coresPerNode));
      expect(read.placement).toEqual(vm.placement);
    }
  });

  test("a floating VM and a dedicated emulator core read back too, and pass every placement rule", () => {
    const topology = readCapabilities(resolve(ROOT, CAPTURE));
    const request = PlacementRequestSchema.parse({
      hosts: [{ name: "numa-01", capabilities: CAPTURE, reserve: { coresPerNode: 1, memoryGiBPerNode: 4 } }],
      vms: [
        { name: "pinned", node: 1, cores: 4, memoryGiB: 16, emulator: "dedicated" },
        { name: "loose", cores: 3, memoryGiB: 8, numa: "floating" },
      ],
    });
    const outcome = planPlacement({ request, topologies: new Map([["numa-01", topology]]) });
    if (outcome.kind !== "placed") throw new Error("does not fit");
    const spec = (name: string) => ({ osDisk: { path: `/v/${name}.qcow2` }, cloudInitIso: { path: `/v/${name}.iso` }, network: { mac: "52:54:00:00:00:01" }, vnc: { enabled: true } });
    const domains = outcome.plan.vms.map((p) => ({ resource: `${p.name}-domain`, xml: renderDomainXml(p, spec(p.name)) }));
    for (const [i, p] of outcome.plan.vms.entries()) expect(readDomain(domains[i].xml, "numa-01", topology, reserved(topology, 1)).placement).toEqual(p);
    const ctx: PolicyContext = {
      hosts: [{ name: "numa-01", topology, reserve: { coresPerNode: 1, memoryGiBPerNode: 4 } }],
      hostOfVm: new Map([["pinned", "numa-01"], ["loose", "numa-01"]]),
      numaOfVm: new Map([["pinned", "strict"], ["loose", "floating"]]),
    };
    expect(checkPlacements(domains, ctx)).toEqual([]);
    // domain-xml.ts renders VNC on loopback only: the console rule agrees.
    expect(checkConsoles(domains, ctx)).toEqual([]);
  });

  test("a domain that is no pinned VM is a finding naming the resource, not a crash", () => {
    const topology = readCapabilities(resolve(ROOT, CAPTURE));
    const ctx: PolicyContext = { hosts: [{ name: "numa-01", topology, reserve: { coresPerNode: 1, memoryGiBPerNode: 4 } }], hostOfVm: new Map(), numaOfVm: new Map() };
    const findings = checkPlacements([{ resource: "x-domain", xml: "<domain><name>x</name><vcpu>two</vcpu></domain>" }], ctx);
    expect(findings).toEqual([{ rule: "whole-cores", resource: "x-domain", message: "x-domain: the domain XML <vcpu> is 'two', not a whole number" }]);
    // Unpinned vCPUs (no <vcpupin>) float over every thread: never whole cores of their own.
    const unpinned = checkPlacements([{ resource: "y-domain", xml: "<domain><name>y</name><vcpu>2</vcpu><memory unit='GiB'>1</memory><cpu><topology sockets='1' cores='1' threads='2'/></cpu></domain>" }], ctx);
    expect(unpinned.map((f) => f.rule)).toContain("whole-cores");
  });
});

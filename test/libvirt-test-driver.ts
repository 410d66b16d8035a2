// Real libvirt for tests, without a daemon: the schema check (`virt-xml-validate`) and libvirt's
// own domain parser through the `test:///FILE` driver, which virsh runs in-process. The test
// driver keeps its state for one connection only, so every call below is one virsh invocation.
import { spawnSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";

/** The host the test driver pretends to be, in `virsh nodeinfo` terms. */
export interface TestDriverHost {
  /** NUMA nodes. */
  nodes: number;
  /** Sockets per node (libvirt's nodeinfo counts them that way). */
  socketsPerNode: number;
  coresPerSocket: number;
  threadsPerCore: number;
  memoryKiB: number;
}

/** docs/reference-layouts.md's host: 2 nodes x 18 cores x 2 threads = 72 threads, 126 GiB per node. */
export const REFERENCE_TEST_HOST: TestDriverHost = {
  nodes: 2,
  socketsPerNode: 1,
  coresPerSocket: 18,
  threadsPerCore: 2,
  memoryKiB: 2 * 126 * 1024 * 1024,
};

/** The test driver's `<node>` document (libvirt src/test/test_driver.c reads /node/cpu/*). */
export function testDriverNodeXml(host: TestDriverHost): string {
  const threads = host.nodes * host.socketsPerNode * host.coresPerSocket * host.threadsPerCore;
  return [
    "<node>",
    "  <cpu>",
    `    <nodes>${host.nodes}</nodes>`,
    `    <sockets>${host.socketsPerNode}</sockets>`,
    `    <cores>${host.coresPerSocket}</cores>`,
    `    <threads>${host.threadsPerCore}</threads>`,
    `    <active>${threads}</active>`,
    "    <mhz>2300</mhz>",
    "    <model>x86_64</model>",
    "  </cpu>",
    `  <memory>${host.memoryKiB}</memory>`,
    "</node>",
    "",
  ].join("\n");
}

/** Runs a tool; ok is its exit status 0, output its stdout and stderr (virt-xml-validate says
 * "validates" on stderr). */
function run(cmd: string, args: string[]): { ok: boolean; output: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error) throw new Error(`${cmd} could not run: ${r.error.message} (is libvirt-clients installed?)`);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** A scratch directory and a `test:///` URI over a node file describing `host`. */
export class TestDriver {
  readonly dir: string;
  readonly uri: string;
  private count = 0;

  constructor(host: TestDriverHost = REFERENCE_TEST_HOST) {
    this.dir = mkdtempSync(join(tmpdir(), "numa-k3s-libvirt-"));
    const nodeFile = join(this.dir, "node.xml");
    writeFileSync(nodeFile, testDriverNodeXml(host));
    this.uri = `test://${nodeFile}`;
  }

  private write(xml: string): string {
    const file = join(this.dir, `domain-${this.count++}.xml`);
    writeFileSync(file, xml);
    return file;
  }

  /** `virt-xml-validate FILE domain`: libvirt's RelaxNG schema. Output carries the complaint. */
  validate(domainXml: string): { ok: boolean; output: string } {
    return run("virt-xml-validate", [this.write(domainXml), "domain"]);
  }

  /** Define the domain in the test driver and return what libvirt writes back
   * (`dumpxml --inactive`); throws with virsh's message if libvirt refuses it. */
  defineAndDump(domainXml: string, name: string): string {
    const file = this.write(domainXml);
    // One virsh invocation: the test driver forgets the domain when the connection closes.
    const result = run("virsh", ["-q", "-c", this.uri, `define '${file}'; dumpxml --inactive '${name}'`]);
    if (!result.ok) throw new Error(`libvirt refused domain '${name}': ${result.output.trim()}`);
    const start = result.output.indexOf("<domain");
    if (start < 0) throw new Error(`virsh printed no domain for '${name}': ${result.output.trim()}`);
    return result.output.slice(start);
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

import { readFileSync } from "fs";
import { join } from "path";
import { parseCapabilities } from "../../topology/capabilities";
import { topologyDiff } from "../../topology/topology-diff";

// The committed capture of the documents' host; every "live" host below is an edited copy of it,
// edited the way the host itself would change.
const CAPTURE = join(__dirname, "../../hosts/reference-2x-e5-2697v4.capabilities.xml");
const xml = readFileSync(CAPTURE, "utf8");
const committed = parseCapabilities(xml, "hosts/reference-2x-e5-2697v4.capabilities.xml");
const live = (edited: string) => parseCapabilities(edited, "live");

/** Every `<cpu id='N' ... siblings='a,b'/>` renumbered by `renumber` (ids and sibling lists). */
function renumbered(source: string, renumber: (id: number) => number): string {
  return source.replace(/<cpu id='(\d+)'([^>]*?)siblings='([^']*)'/g, (_m, id: string, attrs: string, siblings: string) => {
    const ids = siblings.split(",").map((s) => renumber(Number(s)));
    return `<cpu id='${renumber(Number(id))}'${attrs}siblings='${ids.sort((a, b) => a - b).join(",")}'`;
  });
}

/** The `<cell id='N'>` element, whole. */
const CELL = (id: number) => new RegExp(`\\s*<cell id='${id}'>[\\s\\S]*?</cell>`);

describe("topologyDiff", () => {
  it("finds nothing between a capture and itself", () => {
    expect(topologyDiff(committed, live(xml))).toEqual([]);
  });

  it("reports a BIOS that switched from n/n+36 siblings to adjacent 2n/2n+1 siblings", () => {
    // Core c (0-35 over the host) had threads c and c+36; now it has 2c and 2c+1.
    const adjacent = renumbered(xml, (id) => (id < 36 ? 2 * id : 2 * (id - 36) + 1));
    const lines = topologyDiff(committed, live(adjacent));
    // Same node count, same thread count, same SMT width: only the numbering moved, and that is
    // exactly what would pin a planned VM to the other node.
    expect(lines).toEqual([
      "node 0 threads 0-17,36-53 -> 0-35",
      "node 0 cores (sibling threads) 0,36 1,37 2,38 ... (18) -> 0,1 2,3 4,5 ... (18)",
      "node 1 threads 18-35,54-71 -> 36-71",
      "node 1 cores (sibling threads) 18,54 19,55 20,56 ... (18) -> 36,37 38,39 40,41 ... (18)",
    ]);
  });

  it("reports a node that is gone", () => {
    const oneNode = xml.replace(CELL(1), "").replace("<cells num='2'>", "<cells num='1'>").replace(/\s*<sibling id='1' value='21'\/>/, "");
    expect(topologyDiff(committed, live(oneNode))).toEqual(["node 1 is gone (it had threads 18-35,54-71)"]);
  });

  it("reports an offline thread once, not again as a changed core", () => {
    const offline = xml.replace(/<cpu id='41'[^>]*\/>/, "<cpu id='41'/>").replace(/(<cpu id='5'[^>]*siblings=')5,41'/, "$15'");
    expect(live(offline).nodes[0].threads.find((t) => t.id === 41)?.online).toBe(false);
    expect(topologyDiff(committed, live(offline))).toEqual(["node 0 threads 41 offline (were online)"]);
    // And back: the committed capture had it offline, the live host has it online again.
    expect(topologyDiff(live(offline), committed)).toEqual(["node 0 threads 41 online (were offline)"]);
  });

  it("reports SMT switched off", () => {
    // With SMT off the kernel lists only the first thread of each core, alone.
    const smtOff = xml
      .replace(/\s*<cpu id='(3[6-9]|[4-6]\d|7[01])'[^>]*\/>/g, "")
      .replace(/siblings='(\d+),\d+'/g, "siblings='$1'")
      .replace(/<cpus num='36'>/g, "<cpus num='18'>");
    const lines = topologyDiff(committed, live(smtOff));
    expect(lines[0]).toBe("threads per core 2 -> 1");
    expect(lines).toContain("node 0 threads 0-17,36-53 -> 0-17");
  });

  it("tolerates memory drift up to 1% and reports more", () => {
    const withNode0Memory = (kib: number) => xml.replace("<memory unit='KiB'>132120576</memory>", `<memory unit='KiB'>${kib}</memory>`);
    expect(topologyDiff(committed, live(withNode0Memory(Math.round(132120576 * 0.995))))).toEqual([]);
    expect(topologyDiff(committed, live(withNode0Memory(Math.round(132120576 * 0.95))))).toEqual([
      "node 0 memory 126 GiB -> 119.7 GiB (more than the 1% drift allowed between boots)",
    ]);
  });

  it("ignores huge page counts but reports a page size that disappeared", () => {
    const morePages = xml.replace("<pages unit='KiB' size='1048576'>0</pages>", "<pages unit='KiB' size='1048576'>64</pages>");
    expect(topologyDiff(committed, live(morePages))).toEqual([]);
    const no1G = xml.replace(/\s*<pages unit='KiB' size='1048576'>0<\/pages>/, "");
    expect(topologyDiff(committed, live(no1G))).toEqual(["node 0 no longer offers 1048576 KiB pages"]);
  });
});

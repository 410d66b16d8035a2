// npm run plan -- --request FILE | --stack NAME [--lock FILE] [--json] [--svg FILE]
// Exit 0 placed, 2 bad input (one line naming the file and the field), 3 does not fit (proved),
// 4 gave up: the search ran out of time (--search-seconds) without proving that nothing fits.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import YAML from "yaml";
import { formatLock, lockOf, unlockedVms } from "../topology/lock";
import { formatPlanTable } from "../topology/view/plan-table";
import { l3DomainsOf } from "../topology/l3-domains";
import { renderPicture } from "../topology/view/picture";
import { PlacementRequestSchema } from "../topology/request";
import { formatZodError } from "../stacks/config";
import { placeRequest, placeStack } from "../stacks/place-stack";
import { LoadedRequest, checkNodesExist, readLock, readTopologies } from "../stacks/placement-inputs";
import { readStackInputs } from "../stacks/stack-inputs";
import { run } from "./exit";
import { InputError } from "../common/user-error";

const USAGE = "usage: npm run plan -- --request FILE | --stack NAME [--lock FILE] [--json] [--svg FILE] [--search-seconds N]";

/** A request file (YAML or JSON), with its captures read relative to it. */
export function loadRequestFile(path: string): LoadedRequest {
  const file = resolve(path);
  let raw: unknown;
  try {
    raw = YAML.parse(readFileSync(file, "utf8"));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new InputError(err.code === "ENOENT" ? `${path}: no such file` : `${path}: not YAML or JSON: ${err.message.split("\n")[0]}`);
  }
  const parsed = PlacementRequestSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(formatZodError(path, raw, parsed.error, PlacementRequestSchema, ""));
  const loaded = { file: path, keyPrefix: "", request: parsed.data, topologies: readTopologies(parsed.data, dirname(file)) };
  checkNodesExist(loaded);
  return loaded;
}

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      request: { type: "string" },
      stack: { type: "string" },
      lock: { type: "string" },
      json: { type: "boolean", default: false },
      svg: { type: "string" },
      "search-seconds": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if ((values.request === undefined) === (values.stack === undefined)) throw new InputError(`give exactly one of --request FILE or --stack NAME; ${USAGE}`);
  const stack = values.stack !== undefined ? readStackInputs(process.cwd(), values.stack) : undefined;
  const loaded = stack ?? loadRequestFile(values.request!);
  const lockFile = values.lock ?? stack?.lockFile;
  const lock = lockFile ? readLock(lockFile) : undefined;

  // The same planning and rules as the program's deploy gate: what this accepts (and locks), an up accepts.
  const seconds = values["search-seconds"] !== undefined ? Number(values["search-seconds"]) : stack?.config.searchSeconds;
  if (seconds !== undefined && !(seconds > 0)) throw new InputError(`--search-seconds = ${JSON.stringify(values["search-seconds"])}: must be a number of seconds > 0`);
  const placed = stack ? placeStack(stack, lock, lockFile, seconds) : placeRequest(loaded, lock, lockFile, seconds);
  if (placed.kind === "no-fit") {
    for (const line of placed.lines) console.error(line);
    return placed.gaveUp ? 4 : 3;
  }
  const plan = placed.plan;
  // --json adds each VM's L3 domains (derived from the capture; never written to a lock).
  const withL3 = { ...plan, vms: plan.vms.map((vm) => ({ ...vm, l3Domains: l3DomainsOf(vm, loaded.topologies.get(vm.host)!) })) };
  if (values.json) process.stdout.write(JSON.stringify(withL3, null, 2) + "\n");
  else process.stdout.write(formatPlanTable(plan, loaded.topologies));
  if (values.svg) {
    writeFileSync(values.svg, renderPicture(plan.hosts.map((h) => loaded.topologies.get(h.name)!), plan));
    console.error(`wrote ${values.svg}`);
  }
  if (values.lock) {
    writeFileSync(values.lock, formatLock(lockOf(plan)));
    console.error(`wrote ${values.lock}`);
  } else if (lockFile && !lock) console.error(`${lockFile} does not exist yet: pass --lock ${lockFile} to write it`);
  // A plan that moved nothing but placed VMs the lock lacks is still a plan; saying so keeps the
  // stack's deploy gate (only locked VMs are created) from surprising anyone.
  if (lock && !values.lock) {
    const unlocked = unlockedVms(plan, lock);
    if (unlocked.length > 0) console.error(`not in ${lockFile} (or changed): ${unlocked.map((v) => v.name).join(", ")}; pass --lock ${lockFile} to lock them`);
  }
  return 0;
}

if (require.main === module) run(() => main(process.argv.slice(2)));

// npm run plan -- --request FILE | --stack NAME [--lock FILE] [--json] [--svg FILE]
// Exit 0 placed, 2 bad input (one line naming the file and the field), 3 does not fit.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import YAML from "yaml";
import { formatLock, lockOf, unlockedVms } from "../topology/lock";
import { formatPlanTable } from "../topology/plan-table";
import { renderPicture } from "../topology/picture";
import { planPlacement } from "../topology/planner";
import { PlacementRequestSchema } from "../topology/request";
import { ConfigError, formatZodError, placementRequestOf, readStackFile } from "../stacks/config";
import { BadInput, run } from "./exit";
import { LoadedRequest, formatNoFit, readLock, readTopologies } from "../stacks/placement-inputs";

const USAGE = "usage: npm run plan -- --request FILE | --stack NAME [--lock FILE] [--json] [--svg FILE]";

/** Where the request came from: the file and the key prefix that errors should name. */
export function loadRequestFile(path: string): LoadedRequest {
  const file = resolve(path);
  let raw: unknown;
  try {
    raw = YAML.parse(readFileSync(file, "utf8"));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new BadInput(err.code === "ENOENT" ? `${path}: no such file` : `${path}: not YAML or JSON: ${err.message.split("\n")[0]}`);
  }
  const parsed = PlacementRequestSchema.safeParse(raw);
  if (!parsed.success) throw new BadInput(formatZodError(path, raw, parsed.error, ""));
  return { file: path, keyPrefix: "", request: parsed.data, topologies: readTopologies(parsed.data, dirname(file)) };
}

export function loadStack(projectDir: string, stack: string): LoadedRequest {
  try {
    const { file, config } = readStackFile(projectDir, stack);
    const request = placementRequestOf(config);
    return { file: `Pulumi.${stack}.yaml`, keyPrefix: "numa-k3s:", request, topologies: readTopologies(request, dirname(file)), stackLock: config.placementLock };
  } catch (e) {
    if (e instanceof ConfigError) throw new BadInput(e.message);
    throw e;
  }
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
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if ((values.request === undefined) === (values.stack === undefined)) throw new BadInput(`give exactly one of --request FILE or --stack NAME; ${USAGE}`);
  const loaded = values.request !== undefined ? loadRequestFile(values.request) : loadStack(process.cwd(), values.stack!);
  const lockFile = values.lock ?? loaded.stackLock;
  const lock = lockFile ? readLock(lockFile) : undefined;

  const outcome = planPlacement({ request: loaded.request, topologies: loaded.topologies, lock });
  if (outcome.kind === "no-fit") {
    for (const p of outcome.problems) console.error(formatNoFit(loaded, p, lockFile));
    return 3;
  }
  const plan = outcome.plan;
  if (values.json) process.stdout.write(JSON.stringify(plan, null, 2) + "\n");
  else process.stdout.write(formatPlanTable(plan));
  if (values.svg) writeFileSync(values.svg, renderPicture(plan.hosts.map((h) => loaded.topologies.get(h.name)!), plan));
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

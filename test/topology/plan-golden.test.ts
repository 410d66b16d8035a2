// Golden plans: the documents' layouts as `npm run plan --json` prints them, reviewed like code.
// UPDATE_GOLDEN=1 rewrites them; review the diff before committing it.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import YAML from "yaml";
import { PlacementRequestSchema } from "../../topology/request";
import { planPlacement } from "../../topology/planner";
import { readTopologies } from "../../stacks/placement-inputs";

const requests = resolve(__dirname, "../fixtures/requests");
const goldenDir = join(__dirname, "__golden__");

function planOf(file: string) {
  const request = PlacementRequestSchema.parse(YAML.parse(readFileSync(file, "utf8")));
  const topologies = readTopologies(request, dirname(file));
  const outcome = planPlacement({ request, topologies });
  if (outcome.kind !== "placed") throw new Error(`${file} does not place: ${outcome.problems.map((p) => p.message).join("; ")}`);
  return { plan: outcome.plan, topologies };
}

function expectGolden(name: string, text: string) {
  const golden = join(goldenDir, name);
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(golden, text);
  if (!existsSync(golden)) throw new Error(`${golden} is missing; run with UPDATE_GOLDEN=1 once, then review it`);
  expect(text).toBe(readFileSync(golden, "utf8"));
}

describe("golden plans", () => {
  it("the documents' single layout, as JSON", () => {
    const { plan } = planOf(join(requests, "single.yaml"));
    expectGolden("plan-single.json", JSON.stringify(plan, null, 2) + "\n");
  });
});

// .github/workflows/preview.yml: it parses, every command it runs exists, every action is pinned,
// and it covers every stack the repository ships.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import YAML from "yaml";
import { stackNames } from "../stacks/stack-inputs";

const ROOT = resolve(__dirname, "..");
const FILE = resolve(ROOT, ".github/workflows/preview.yml");
const text = readFileSync(FILE, "utf8");

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  steps: Step[];
  needs?: string[];
  if?: string;
  strategy?: { matrix?: { stack?: string } };
  permissions?: Record<string, string>;
}
const workflow = YAML.parse(text) as { on: Record<string, unknown>; permissions: Record<string, string>; jobs: Record<string, Job> };
const steps = Object.values(workflow.jobs).flatMap((j) => j.steps);
const runs = steps.flatMap((s) => (s.run ? [s.run] : []));

test("the workflow parses and runs on pull requests only, with read-only default permissions", () => {
  expect(Object.keys(workflow.on)).toEqual(["pull_request"]);
  expect(workflow.permissions).toEqual({ contents: "read" });
});

test("every `npm run X` a step calls is a script of package.json, and npm test has one", () => {
  const scripts = (JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
  const called = [...runs.join("\n").matchAll(/\bnpm run ([\w:-]+)/g)].map((m) => m[1]);
  expect(called.sort()).toEqual(expect.arrayContaining(["check", "render"]));
  for (const name of called) expect([name, name in scripts]).toEqual([name, true]);
  // README's test command runs, directly or through .ci/run (which must end in it).
  const ciRunsTests = /^npm test$/m.test(readFileSync(resolve(ROOT, ".ci/run"), "utf8"));
  expect(runs.some((r) => /^npm test$/m.test(r) || (ciRunsTests && r.trim() === "bash .ci/run"))).toBe(true);
  expect("test" in scripts).toBe(true);
});

test("every action is pinned to a full commit, with the release it is named beside", () => {
  const uses = [...text.matchAll(/^\s*-?\s*uses:\s*(\S+)(.*)$/gm)];
  expect(uses.length).toBe(steps.filter((s) => s.uses).length);
  for (const [, ref, rest] of uses) {
    expect([ref, /^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/.test(ref)]).toEqual([ref, true]);
    expect([ref, /#\s*v\d+\.\d+\.\d+\s*$/.test(rest)]).toEqual([ref, true]);
  }
});

test("render, check and preview cover exactly the repository's stacks: the list step's script, run here, names them", () => {
  const list = workflow.jobs.stacks.steps.find((st) => st.run?.includes("GITHUB_OUTPUT"))!.run!;
  const dir = mkdtempSync(join(tmpdir(), "gh-output-"));
  const output = join(dir, "out");
  execFileSync("bash", ["-euo", "pipefail", "-c", list], { cwd: ROOT, env: { ...process.env, GITHUB_OUTPUT: output } });
  const line = readFileSync(output, "utf8").trim();
  rmSync(dir, { recursive: true });
  expect(line.startsWith("stacks=")).toBe(true);
  expect((JSON.parse(line.slice("stacks=".length)) as string[]).sort()).toEqual(stackNames(ROOT));
  for (const job of ["render", "preview"]) {
    expect(workflow.jobs[job].needs).toContain("stacks");
    expect(workflow.jobs[job].strategy?.matrix?.stack).toBe("${{ fromJSON(needs.stacks.outputs.list) }}");
  }
  const render = workflow.jobs.render.steps;
  expect(render.some((st) => st.run === "npm run render -- --stack ${{ matrix.stack }} --out out/${{ matrix.stack }}")).toBe(true);
  expect(render.some((st) => st.run === "npm run check -- out/${{ matrix.stack }}")).toBe(true);
  const upload = render.find((st) => st.uses?.startsWith("actions/upload-artifact@"));
  expect(String(upload?.with?.path).trim().split("\n")).toEqual(["out/${{ matrix.stack }}/plan.md", "out/${{ matrix.stack }}/plan.svg"]);
});

test("the preview runs only with Pulumi credentials, under the policy pack, and comments on the pull request", () => {
  const preview = workflow.jobs.preview;
  expect(preview.needs).toContain("credentials");
  expect(preview.if).toBe("needs.credentials.outputs.pulumi == 'true'");
  expect(workflow.jobs.credentials.steps[0].env?.PULUMI_ACCESS_TOKEN).toBe("${{ secrets.PULUMI_ACCESS_TOKEN }}");
  const action = preview.steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
  expect(action.with).toMatchObject({ command: "preview", policyPacks: "policy", "comment-on-pr": true });
  expect(action.env?.PULUMI_ACCESS_TOKEN).toBe("${{ secrets.PULUMI_ACCESS_TOKEN }}");
  expect(preview.permissions).toEqual({ contents: "read", "pull-requests": "write" });
  // The pack installs from its own lock file.
  expect(preview.steps.some((s) => s.run === "npm ci --no-audit --no-fund --prefix policy")).toBe(true);
  expect(existsSync(resolve(ROOT, "policy/package-lock.json"))).toBe(true);
});

test("the test job installs every tool .ci/run installs (the tests drive them)", () => {
  const ci = readFileSync(resolve(ROOT, ".ci/run"), "utf8");
  // Running .ci/run itself is the one way that cannot drift from it.
  if (workflow.jobs.test.steps.some((s) => (s.run ?? "").trim() === "bash .ci/run")) {
    expect(ci).toMatch(/\bnpm test\b/);
    return;
  }
  // Continuation lines joined, then every word after `apt-get install` that is a package name.
  const packages = (script: string) =>
    new Set(
      [...script.replace(/\\\n/g, " ").matchAll(/apt-get install([^\n]*)/g)].flatMap((m) => m[1].split(/\s+/)).filter((w) => /^[a-z0-9][a-z0-9.+-]+$/.test(w)),
    );
  const wanted = packages(ci);
  expect(wanted.size).toBeGreaterThan(5);
  const have = packages(workflow.jobs.test.steps.map((s) => s.run ?? "").join("\n"));
  for (const p of wanted) expect([p, have.has(p)]).toEqual([p, true]);
});

// A throwaway copy of the project for a stack the repository does not ship (a shipped stack file
// edited), planned and locked there with `npm run plan -- --lock` and rendered with `npm run
// render`, exactly as a user would: the policy tests judge what those real commands wrote.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");

export interface TempProject {
  /** The project directory (Pulumi.yaml, the stack file, hosts/ with the captures and the lock). */
  dir: string;
  stack: string;
  /** Its render (`npm run render -- --stack STACK --out render`). */
  render: string;
}

function cli(dir: string, script: string, args: string[]): void {
  const r = spawnSync(TSX, [join(ROOT, "cli", script), ...args], { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${script} ${args.join(" ")} in ${dir}: exit ${r.status}: ${r.stderr}`);
}

/** Stack `stack`, made from Pulumi.<from>.yaml by `edit`, in a new project copy under the system's
 * temporary directory; planned, locked and rendered. With `keepLock`, it starts from <from>'s lock
 * (a stack that grows keeps its VMs where they are). */
export function tempProject(stack: string, from: string, edit: (stackFile: string) => string, keepLock = false): TempProject {
  const dir = mkdtempSync(join(tmpdir(), "numa-policy-project-"));
  mkdirSync(join(dir, "hosts"));
  copyFileSync(join(ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  for (const f of readdirSync(join(ROOT, "hosts"))) if (f.endsWith(".xml")) copyFileSync(join(ROOT, "hosts", f), join(dir, "hosts", f));
  const text = readFileSync(join(ROOT, `Pulumi.${from}.yaml`), "utf8");
  const edited = edit(text);
  if (edited === text) throw new Error(`the edit of Pulumi.${from}.yaml changed nothing`);
  writeFileSync(join(dir, `Pulumi.${stack}.yaml`), edited);
  if (keepLock) copyFileSync(join(ROOT, `hosts/${from}.lock.json`), join(dir, `hosts/${stack}.lock.json`));
  cli(dir, "plan.ts", ["--stack", stack, "--lock", `hosts/${stack}.lock.json`]);
  const render = join(dir, "render");
  cli(dir, "render.ts", ["--stack", stack, "--out", render]);
  return { dir, stack, render };
}

/** The first model server Deployment of a render (`k8s/Deployment-*.yaml` labelled as one by
 * slm/manifests.ts) and the VM its nodeSelector names: which model sits where follows the stacks. */
export function modelServerOf(render: string): { file: string; vm: string } {
  const dir = join(render, "k8s");
  for (const f of readdirSync(dir).filter((f) => f.startsWith("Deployment-")).sort()) {
    const text = readFileSync(join(dir, f), "utf8");
    const vm = /kubernetes\.io\/hostname: (\S+)/.exec(text)?.[1];
    if (text.includes("app.kubernetes.io/component: model-server") && vm) return { file: join(dir, f), vm };
  }
  throw new Error(`${render}: no model server Deployment`);
}

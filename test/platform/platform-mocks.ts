// The mock runtime for the platform components' tests: cli/mock-runtime.ts's recorder, plus a
// deterministic RandomPassword result (the mock echoes inputs, and a password has no input that
// is its value), so the tests can look for the generated secrets in everything that was rendered.
import * as pulumi from "@pulumi/pulumi";
import { SECRET_SIG_KEY, SECRET_SIG_VALUE, redactSecrets, unwrapSecrets } from "../../cli/mock-runtime";
import type { K8sObject } from "../k8s-schema";

export interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

let recorded: Recorded[] = [];

/** The value the mock gives RandomPassword `name`: long, recognisable, never in a test's text. */
export const passwordOf = (name: string) => `pw-${name}-0123456789abcdefghij`;

export function startPlatformMocks(): void {
  recorded = [];
  void pulumi.runtime.setMocks(
    {
      newResource(args) {
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs ?? {} });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "random:index/randomPassword:RandomPassword") state.result = passwordOf(args.name);
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        throw new Error(`platform mocks: no mock for the invoke ${args.token}`);
      },
    },
    "numa-k3s",
    "test",
    false,
  );
}

/** Waits until the program has registered everything (the queue of RPCs stays empty). */
export async function settled(): Promise<Recorded[]> {
  const wait = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
  let count = -1;
  while (count !== recorded.length) {
    count = recorded.length;
    if (wait) await wait();
    await new Promise((r) => setImmediate(r));
  }
  return recorded;
}

export const isSecretWrapped = (v: unknown) => typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG_VALUE;

/** Typed Kubernetes objects (not charts, providers or components), secrets unwrapped. */
export function k8sObjects(resources: Recorded[]): K8sObject[] {
  return resources
    .filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm.sh"))
    .map((r) => unwrapSecrets(r.inputs).value as K8sObject);
}

export function charts(resources: Recorded[]): { name: string; chart: string; version: string; repo: string; values: Record<string, unknown> }[] {
  return resources
    .filter((r) => r.type === "kubernetes:helm.sh/v4:Chart")
    .map((r) => {
      const i = unwrapSecrets(r.inputs).value as { chart: string; version: string; repositoryOpts: { repo: string }; values: Record<string, unknown> };
      return { name: r.name, chart: i.chart, version: i.version, repo: i.repositoryOpts.repo, values: i.values };
    });
}

/** Everything rendered, secrets redacted: what `render` may print. */
export const redacted = (resources: Recorded[]) => JSON.stringify(resources.map((r) => redactSecrets(r.inputs)));

/** Paths of the secrets in a resource's inputs. */
export const secretPaths = (r: Recorded) => unwrapSecrets(r.inputs).secretPaths;

// The platform components' tests on the one mock runtime (cli/mock-runtime.ts), with readers for
// what they check: the typed Kubernetes objects, the charts, the secrets' paths.
import { SECRET_SIG_KEY, SECRET_SIG_VALUE, offlinePassword, recordedResources, redactSecrets, settle, startMockRuntime, unwrapSecrets, type RecordedResource } from "../../cli/mock-runtime";
import type { K8sObject } from "../k8s-schema";

export type Recorded = RecordedResource;

/** The value the mock gives RandomPassword `name` (at the length the components ask for). */
export const passwordOf = (name: string, length = 32) => offlinePassword(name, length);

export function startPlatformMocks(): void {
  startMockRuntime({ project: "numa-k3s", stack: "test" });
}

/** Waits until the program has registered everything; what it registered. */
export async function settled(): Promise<Recorded[]> {
  await settle();
  return recordedResources();
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

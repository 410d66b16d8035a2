// The labels of the Kubernetes objects the program writes itself (charts label their own): the
// well-known app.kubernetes.io set, and managed-by on every one, so that
// `kubectl get all -A -l app.kubernetes.io/managed-by=numa-k3s` lists what this program owns.
// A workload's selector stays the one label it was created with: a Deployment's or DaemonSet's
// selector cannot change without replacing it, so labels are added here, never selected on.

export const MANAGED_BY = { "app.kubernetes.io/managed-by": "numa-k3s" } as const;

export interface AppLabelArgs {
  /** What groups it (`temporal`, `monitoring`, `slm-ensemble`). */
  partOf: string;
  /** Its role in the group (`model-server`, `database`, `worker`, `metrics-exporter`). */
  component?: string;
  /** One of several of the same app (a model's name). */
  instance?: string;
  /** Labels of the program's own (`numa-k3s.io/...`). */
  extra?: Record<string, string>;
}

/** The selector of a workload named `name`: the label it is created with, and selected on. */
export function appSelector(name: string): Record<string, string> {
  return { "app.kubernetes.io/name": name };
}

/** A workload's labels, for its object and its pod template: its selector and the rest. */
export function appLabels(name: string, a: AppLabelArgs): Record<string, string> {
  return {
    ...appSelector(name),
    ...(a.instance === undefined ? {} : { "app.kubernetes.io/instance": a.instance }),
    ...(a.component === undefined ? {} : { "app.kubernetes.io/component": a.component }),
    "app.kubernetes.io/part-of": a.partOf,
    ...MANAGED_BY,
    ...a.extra,
  };
}

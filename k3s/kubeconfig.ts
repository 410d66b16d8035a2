// The admin kubeconfig K3s writes (/etc/rancher/k3s/k3s.yaml) names https://127.0.0.1:6443, which
// only works on the server itself. Pulumi's Kubernetes provider runs elsewhere, so every cluster
// entry is pointed at the address it can reach.
import { parse, stringify } from "yaml";
import { InputError } from "../common/user-error";

export const KUBECONFIG_FILE = "/etc/rancher/k3s/k3s.yaml";

/** `kubeconfig` with every cluster's server set to `url`; throws (one line, no content) when the
 * text is not a kubeconfig with at least one cluster. The content is never put in a message: it
 * holds the admin's client key. */
export function rewriteKubeconfigServer(kubeconfig: string, url: string): string {
  let doc: unknown;
  try {
    doc = parse(kubeconfig);
  } catch {
    throw new InputError(`${KUBECONFIG_FILE}: not YAML (${kubeconfig.length} bytes read)`);
  }
  const clusters = (doc as { clusters?: Array<{ cluster?: { server?: string } }> } | null)?.clusters;
  if (!Array.isArray(clusters) || clusters.length === 0 || clusters.some((c) => typeof c?.cluster !== "object")) {
    throw new InputError(`${KUBECONFIG_FILE}: no clusters[].cluster in what the server returned (${kubeconfig.length} bytes); is K3s running?`);
  }
  for (const c of clusters) c.cluster!.server = url;
  return stringify(doc, { lineWidth: 0 });
}

// The K3s release every node installs, and the Kubernetes release inside it. A stack may pin another
// one (`numa-k3s:k3s.version`); this is the default it starts from.
//
// Where it was read (2026-12-04): k3s-io/k3s PR #14492 "[main] Update stable channel to
// v1.36.3+k3s1" (merged 2026-08-04) makes v1.36.3+k3s1 the stable channel's release; v1.36.2+k3s1
// (June 2026) is older. A later patch exists (PR #14545, v1.36.4-k3s1, merged 2026-08-20); the pin
// stays on v1.36.3 because the tests that build real Kubernetes take k8s.io/kubernetes v1.36.3 and
// k8s.io/kubelet v0.36.3 from the Go module proxy: move them together. Change it with
// test/fixtures/k3s/*.json (the flag and field lists the tests check against, which name it).
import { UserError } from "../common/user-error";

/** The pinned K3s release, as INSTALL_K3S_VERSION and `k3s --version` spell it. */
export const K3S_VERSION = "v1.36.3+k3s1";

/** The Kubernetes release K3S_VERSION embeds (its KubeletConfiguration is the one rendered). */
export const KUBERNETES_VERSION = "v1.36.3";

/** What a K3s release tag looks like: v1.<minor>.<patch>+k3s<n>. Release candidates are refused:
 * an install pinned to an rc would silently move when the final release replaces it. */
export const K3S_VERSION_PATTERN = /^v1\.(3[0-9])\.(0|[1-9][0-9]*)\+k3s[1-9][0-9]*$/;

/** An error in a K3s argument; the message is one line (a UserError: the program prints it as such). */
export class K3sArgsError extends UserError {}

/** The version, or a one-line error naming the field. */
export function checkK3sVersion(field: string, version: string): string {
  if (!K3S_VERSION_PATTERN.test(version)) {
    throw new K3sArgsError(`${field} = ${JSON.stringify(version)}: a stable K3s release tag of v1.30 or later, like ${JSON.stringify(K3S_VERSION)}`);
  }
  return version;
}

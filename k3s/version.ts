// The K3s release every node installs, and the Kubernetes release inside it. A stack may pin another
// one (`numa-k3s:k3s.version`); this is the default it starts from.
//
// Where it was read (2026-12-02): docs.k3s.io/release-notes/v1.36.X lists v1.36.1+k3s1 (May 20 2026,
// Kubernetes v1.36.1) as the newest v1.36 release; the only later v1.36 tag seen, v1.36.2+k3s1, was
// still marked "Pre-release" on its GitHub release page. Change it together with
// test/fixtures/k3s/*.json (the flag and field lists the tests check against).
import { UserError } from "../common/user-error";

/** The pinned K3s release, as INSTALL_K3S_VERSION and `k3s --version` spell it. */
export const K3S_VERSION = "v1.36.1+k3s1";

/** The Kubernetes release K3S_VERSION embeds (its KubeletConfiguration is the one rendered). */
export const KUBERNETES_VERSION = "v1.36.1";

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

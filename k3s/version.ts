// The K3s release every node installs, and the Kubernetes release inside it. A stack may pin another
// one (`numa-k3s:k3s.version`); this is the default it starts from.
//
// Where it was read (2026-12-04): k3s-io/k3s PR #14492 "[main] Update stable channel to
// v1.36.3+k3s1" (merged 2026-08-04) makes v1.36.3+k3s1 the stable channel's release; v1.36.2+k3s1
// (June 2026) is older. A later patch exists (PR #14545, v1.36.4-k3s1, merged 2026-08-20); the pin
// stays on v1.36.3 because the tests that build real Kubernetes take k8s.io/kubernetes v1.36.3 and
// k8s.io/kubelet v0.36.3 from the Go module proxy: move them together. Change it with
// test/fixtures/k3s/*.json (the flag and field lists the tests check against, which name it).
import { InputError } from "../common/user-error";

/** The pinned K3s release, as INSTALL_K3S_VERSION and `k3s --version` spell it. */
export const K3S_VERSION = "v1.36.3+k3s1";

/** The Kubernetes release K3S_VERSION embeds (its KubeletConfiguration is the one rendered). */
export const KUBERNETES_VERSION = "v1.36.3";

/** What a K3s release tag looks like: v1.<minor>.<patch>+k3s<n>. Release candidates are refused:
 * an install pinned to an rc would silently move when the final release replaces it. */
export const K3S_VERSION_PATTERN = /^v1\.(3[0-9])\.(0|[1-9][0-9]*)\+k3s[1-9][0-9]*$/;

/** The official installer of a release: its install.sh at the release's tag (not get.k3s.io, which
 * serves whatever is newest), and the sha256 its bytes must have before it runs as root. */
export interface InstallScript {
  url: string;
  sha256: string;
}

/** The tag's install.sh. */
export function installerUrl(version: string): string {
  return `https://raw.githubusercontent.com/k3s-io/k3s/${encodeURIComponent(version)}/install.sh`;
}

/**
 * sha256 of install.sh at each release this project pins or has pinned, by release. Another
 * release needs `numa-k3s:k3s.installScript.sha256` (`curl -fsSL <installerUrl> | sha256sum`).
 *
 * Not computed here from the bytes, which could not be fetched (no internet; the only stored copy
 * of install.sh in the reference index is of an older commit, whose sha256 40b487f0... is the one
 * others pin for v1.34.8 and v1.34.9). 46177d4c... is the sum independent projects pin for
 * install.sh at v1.36.1+k3s1 (tag commit a9663261a7ff40522542485a6b2f81916b6d72f9, as nixpkgs' k3s
 * 1.36.1 names it) and at v1.36.2, v1.36.3, v1.36.4 and v1.36.5: install.sh did not change between
 * them. A wrong value installs nothing: the install refuses, naming both sums.
 */
const INSTALL_SH_V1_36 = "46177d4c99440b4c0311b67233823a8e8a2fc09693f6c89af1a7161e152fbfad";
export const INSTALL_SCRIPT_SHA256: Readonly<Record<string, string>> = {
  "v1.36.1+k3s1": INSTALL_SH_V1_36,
  "v1.36.2+k3s1": INSTALL_SH_V1_36,
  "v1.36.3+k3s1": INSTALL_SH_V1_36,
  "v1.36.4+k3s1": INSTALL_SH_V1_36,
  "v1.36.5+k3s1": INSTALL_SH_V1_36,
};

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The installer of `version`: the override where the stack gives one, else the tag's with the
 * pinned sum; refused (one line, naming the key) for a release without a known sum. */
export function installScriptOf(field: string, version: string, override?: Partial<InstallScript>): InstallScript {
  const url = override?.url ?? installerUrl(version);
  const sha256 = override?.sha256 ?? (override?.url === undefined ? INSTALL_SCRIPT_SHA256[version] : undefined);
  if (sha256 === undefined)
    throw new InputError(
      `${field}.sha256: no checksum of ${url} is known here (k3s/version.ts pins ${Object.keys(INSTALL_SCRIPT_SHA256).join(", ")}); set it to the output of: curl -fsSL '${url}' | sha256sum`,
    );
  if (!SHA256_HEX.test(sha256)) throw new InputError(`${field}.sha256 = ${JSON.stringify(sha256)}: 64 lowercase hex digits, as sha256sum prints them`);
  if (!/^https:\/\/[^\s'"]+$/.test(url)) throw new InputError(`${field}.url = ${JSON.stringify(url)}: an https URL without spaces or quotes`);
  return { url, sha256 };
}

/** The version, or a one-line error naming the field. */
export function checkK3sVersion(field: string, version: string): string {
  if (!K3S_VERSION_PATTERN.test(version)) {
    throw new InputError(`${field} = ${JSON.stringify(version)}: a stable K3s release tag of v1.30 or later, like ${JSON.stringify(K3S_VERSION)}`);
  }
  return version;
}

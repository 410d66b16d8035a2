// The formats names and paths must have, checked once each, wherever they are first written (stack
// config, guest spec, domain XML, scripts). One definition each, so the layers cannot disagree.
import { isIP } from "node:net";

/** A DNS label: a VM's host name, one part of a domain name. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DNS_LABEL_HINT = "must be a DNS label (lowercase letters, digits, '-', at most 63)";

/** A unicast MAC address in lowercase, as libvirt writes it and network-config matches it. */
export const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
export const MAC_HINT = "must be a lowercase MAC address like 52:54:00:12:34:56";

/** The host's stable name of a disk to pass through: sdX names move between boots, and the wrong
 * disk would be handed to the VM. */
export const BY_ID_DEVICE = /^\/dev\/disk\/by-id\/[A-Za-z0-9_.:+-]+$/;
export const BY_ID_DEVICE_HINT = "must be a /dev/disk/by-id/ path (sdX names move between boots)";

/** A login name other systems accept (useradd's default rule); never starts with '-', so it cannot
 * pass for an option of `ssh -l`. */
export const LOGIN_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** The libvirt connection URI every host has unless its config says otherwise. */
export const DEFAULT_LIBVIRT_URI = "qemu:///system";
export const LIBVIRT_URI = /^[a-z][a-z0-9+]*:\/\/[^\s'"]*$/;
export const LIBVIRT_URI_HINT = "must be a libvirt URI such as qemu:///system";

/** A Linux network interface name (IFNAMSIZ: at most 15 bytes): a bridge, flannel's NIC. The
 * kernel refuses '/', whitespace and ':' in a name; we keep to the characters tools print unquoted. */
export const INTERFACE_NAME = /^[a-zA-Z0-9_.-]{1,15}$/;
export const INTERFACE_NAME_HINT = "must be a Linux interface name (1-15 letters, digits, '_', '.', '-')";

/** A Debian package name, optionally `=version` (what cloud-init's `packages:` passes to apt). */
export const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+:~-]+)?$/;
export const PACKAGE_NAME_HINT = "is not a Debian package name (optionally name=version)";

/** A container image reference: repository, optional tag, optional @sha256 digest. */
export const IMAGE_REFERENCE = /^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?(:\d+)?(\/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$/;
/** Pinned: a tag other than `latest`, or a digest (an image that moves under a running cluster is
 * a deployment nobody reviewed). */
export const isPinnedImage = (image: string) => (/:[^/]+$/.test(image) || /@sha256:/.test(image)) && !/:latest$/.test(image);
export const PINNED_IMAGE_HINT = "must be an image reference with a tag (not latest) or a digest, e.g. registry.lab/team/worker:1.2.0";

/** A path on a host, absolute and normalised: no '.' or '..' segment (`/var/lib/libvirt/images/../../../etc`
 * walks out of the directory it names), no '//' or trailing '/', not '/' itself, and no space, quote,
 * backslash or control character (paths go into shell scripts, domain XML and pod specs). */
export const ABSOLUTE_PATH = /^(?:\/(?!\.\.?(?:\/|$))[^/\s'"\\\x00-\x1f\x7f]+)+$/;
export const ABSOLUTE_PATH_HINT = "must be an absolute path, normalised (no '.' or '..' segment, no '//' or trailing '/', no spaces or quotes)";

/** A DNS host name: dot-separated labels of letters, digits and inner '-', at most 253 characters.
 * Never starts with '-', so `ssh` cannot read it as an option (`-oProxyCommand=...`). */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** An address `ssh` and Pulumi dial: an IPv4 or IPv6 address, or a DNS name. */
export function isHostAddress(text: string): boolean {
  return isIP(text) !== 0 || HOST_NAME.test(text);
}
export const HOST_ADDRESS_HINT = "must be an IP address or a DNS name (letters, digits, '-' and '.')";

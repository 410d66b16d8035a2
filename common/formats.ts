// The formats names and paths must have, checked once each, wherever they are first written (stack
// config, guest spec, domain XML, scripts). One definition each, so the layers cannot disagree.

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

/** A login name other systems accept (useradd's default rule). */
export const LOGIN_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** The libvirt connection URI every host has unless its config says otherwise. */
export const DEFAULT_LIBVIRT_URI = "qemu:///system";
export const LIBVIRT_URI = /^[a-z][a-z0-9+]*:\/\/[^\s'"]*$/;
export const LIBVIRT_URI_HINT = "must be a libvirt URI such as qemu:///system";

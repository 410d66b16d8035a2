// What a guest learns from its NoCloud seed: user-data (who may log in, what to install, which disks
// to format and mount), network-config (its static address on the bridge) and meta-data (identity).
// Pure: values in, document text out. The seed ISO itself is built on the hypervisor
// (hypervisor/vm-scripts.ts) from these three files.
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { stringify } from "yaml";
import { DataDisk, dataDiskScript } from "./data-disks";
import { MOUNT_POINTS as DATA_MOUNT_POINTS } from "./data-mounts";
import { fieldProblem, InputError } from "../common/user-error";
import { DNS_LABEL, DNS_LABEL_HINT, LOGIN_NAME, MAC, MAC_HINT, PACKAGE_NAME, PACKAGE_NAME_HINT } from "../common/formats";

/** A data disk of the guest (guest/data-disks.ts says how it is formatted and mounted). */
export type GuestMount = DataDisk;

export interface GuestSpec {
  /** Short host name (a DNS label), also the libvirt domain name by convention. */
  hostname: string;
  /** Optional DNS domain: when set, the guest's fqdn is `<hostname>.<domain>`. */
  domain?: string;
  /** The one login user: SSH keys only, passwordless sudo, password locked. Never `root`. */
  adminUser: string;
  /** Public keys (`ssh-ed25519 AAAA... comment`) allowed to log in as adminUser; at least one. */
  sshAuthorizedKeys: string[];
  /** Distribution packages to install on first boot; qemu-guest-agent is always added. */
  packages: string[];
  /** IANA time zone, e.g. `Europe/Berlin`; the image's default (usually UTC) when absent. */
  timezone?: string;
  address: {
    /** The guest's static address with prefix length, e.g. `192.168.50.11/24`. */
    cidr: string;
    /** Default gateway on the bridge, e.g. `192.168.50.1`. */
    gateway: string;
    /** DNS resolvers, at least one. */
    nameservers: string[];
    /** DNS search domains (optional). */
    search?: string[];
  };
  /** The NIC's MAC address (the one in the domain XML): network-config matches the NIC by it. */
  mac: string;
  /** Disks to format and mount; empty for a VM with only its OS disk. */
  mounts: GuestMount[];
}

// Public key types OpenSSH accepts in authorized_keys; anything else is most likely a pasted private key.
export const PUBLIC_KEY = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/;
const MOUNT_POINTS: string[] = Object.values(DATA_MOUNT_POINTS);
// cloud-init reads YAML with PyYAML, i.e. YAML 1.1: there an unquoted 52:54:00:12:34:56 is a
// base-60 integer and `on`/`yes` are booleans. Writing in 1.1 mode makes the library quote them.
const YAML_OPTIONS = { version: "1.1", lineWidth: 0 } as const;

function fail(spec: GuestSpec, field: string, value: unknown, why: string): never {
  throw new InputError(fieldProblem(`cloud-init spec of '${spec.hostname}'`, field, value, why));
}

/** Throws one line naming the field, its value and what would fit; returns the spec unchanged. */
export function checkGuestSpec(spec: GuestSpec): GuestSpec {
  if (!DNS_LABEL.test(spec.hostname)) fail(spec, "hostname", spec.hostname, DNS_LABEL_HINT);
  if (spec.domain !== undefined && !spec.domain.split(".").every((l) => DNS_LABEL.test(l)))
    fail(spec, "domain", spec.domain, "must be dot-separated DNS labels, e.g. lab.example.org");
  if (!LOGIN_NAME.test(spec.adminUser) || spec.adminUser === "root")
    fail(spec, "adminUser", spec.adminUser, "must be a lowercase login name other than root (root login is disabled)");
  if (spec.sshAuthorizedKeys.length === 0) fail(spec, "sshAuthorizedKeys", [], "at least one public key is needed: password login is disabled");
  spec.sshAuthorizedKeys.forEach((key, i) => {
    if (!PUBLIC_KEY.test(key.trim()))
      fail(spec, `sshAuthorizedKeys[${i}]`, key.slice(0, 24) + (key.length > 24 ? "..." : ""), "is not an OpenSSH public key line (ssh-ed25519 AAAA... comment)");
  });
  spec.packages.forEach((p, i) => {
    if (!PACKAGE_NAME.test(p)) fail(spec, `packages[${i}]`, p, PACKAGE_NAME_HINT);
  });
  if (spec.timezone !== undefined && !/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/.test(spec.timezone))
    fail(spec, "timezone", spec.timezone, "must be an IANA zone name such as Europe/Berlin or UTC");
  const [ip, prefix, ...rest] = spec.address.cidr.split("/");
  const family = isIP(ip ?? "");
  const maxPrefix = family === 6 ? 128 : 32;
  if (family === 0 || rest.length > 0 || !/^\d+$/.test(prefix ?? "") || Number(prefix) > maxPrefix)
    fail(spec, "address.cidr", spec.address.cidr, "must be an address with prefix length, e.g. 192.168.50.11/24");
  if (isIP(spec.address.gateway) !== family)
    fail(spec, "address.gateway", spec.address.gateway, `must be an IPv${family} address like the VM's own (${ip})`);
  if (spec.address.nameservers.length === 0) fail(spec, "address.nameservers", [], "at least one resolver address is needed");
  spec.address.nameservers.forEach((ns, i) => {
    if (isIP(ns) === 0) fail(spec, `address.nameservers[${i}]`, ns, "is not an IP address");
  });
  if (!MAC.test(spec.mac)) fail(spec, "mac", spec.mac, MAC_HINT);
  const seen = new Map<string, number>();
  spec.mounts.forEach((m, i) => {
    if (!MOUNT_POINTS.includes(m.mountPoint)) fail(spec, `mounts[${i}].mountPoint`, m.mountPoint, `must be one of ${MOUNT_POINTS.join(", ")}`);
    if (!/^\/dev\/[A-Za-z0-9_./:+-]+$/.test(m.device)) fail(spec, `mounts[${i}].device`, m.device, "must be a /dev path, e.g. /dev/vdb or /dev/disk/by-id/virtio-staging");
    if (m.fsType !== "ext4") fail(spec, `mounts[${i}].fsType`, m.fsType, "only ext4 is supported");
    if (m.format !== "when-blank" && m.format !== "never") fail(spec, `mounts[${i}].format`, m.format, "must be when-blank or never");
    if (!/^[A-Za-z0-9_-]{1,16}$/.test(m.label)) fail(spec, `mounts[${i}].label`, m.label, "must be 1-16 letters, digits, '_' or '-' (ext4 label limit)");
    for (const [key, what] of [[m.mountPoint, "mountPoint"], [m.device, "device"], [`LABEL=${m.label}`, "label"]] as const) {
      const j = seen.get(key);
      if (j !== undefined) fail(spec, `mounts[${i}].${what}`, key.replace(/^LABEL=/, ""), `is already used by mounts[${j}]`);
      seen.set(key, i);
    }
  });
  return spec;
}

/**
 * `#cloud-config` user-data. Data disks are not given to cloud-init's disk_setup/fs_setup/mounts
 * (they format a whole disk whatever `overwrite` says, see guest/data-disks.ts): our own script
 * runs at every boot (`bootcmd`), formats only a device that reads as blank and may be formatted,
 * and mounts by UUID with `nofail` (a missing data disk must not leave a VM unreachable).
 */
/** `$0` of the data-disk script in the guest: what its lines in cloud-init's log are found by. */
export const DATA_DISK_SCRIPT_NAME = "numa-k3s-data-disks";

export function renderUserData(spec: GuestSpec): string {
  checkGuestSpec(spec);
  const packages = [...new Set(["qemu-guest-agent", ...spec.packages])];
  const doc: Record<string, unknown> = {
    hostname: spec.hostname,
    ...(spec.domain !== undefined ? { fqdn: `${spec.hostname}.${spec.domain}` } : {}),
    prefer_fqdn_over_hostname: false,
    manage_etc_hosts: true,
    ...(spec.timezone !== undefined ? { timezone: spec.timezone } : {}),
    disable_root: true,
    ssh_pwauth: false,
    users: [
      {
        name: spec.adminUser,
        groups: ["sudo"],
        shell: "/bin/bash",
        sudo: "ALL=(ALL) NOPASSWD:ALL",
        lock_passwd: true,
        ssh_authorized_keys: spec.sshAuthorizedKeys.map((k) => k.trim()),
      },
    ],
    package_update: true,
    packages,
  };
  if (spec.mounts.length > 0) doc.bootcmd = [["bash", "-c", dataDiskScript(spec.mounts), DATA_DISK_SCRIPT_NAME]];
  doc.runcmd = [["systemctl", "enable", "--now", "qemu-guest-agent"]];
  return "#cloud-config\n" + stringify(doc, YAML_OPTIONS);
}

/**
 * The guest's one NIC is renamed to this. A fixed name is what K3s settings (`--flannel-iface`)
 * can refer to, and without `set-name` cloud-init's non-netplan renderers (networkd, ENI on Debian
 * images) rename the NIC to the config's key anyway.
 */
export const GUEST_INTERFACE = "eth0";

/** network-config version 2: one NIC matched by its MAC, a static address, default route, resolvers. */
export function renderNetworkConfig(spec: GuestSpec): string {
  checkGuestSpec(spec);
  const v6 = isIP(spec.address.cidr.split("/")[0]) === 6;
  const nameservers: Record<string, string[]> = { addresses: spec.address.nameservers };
  if (spec.address.search !== undefined && spec.address.search.length > 0) nameservers.search = spec.address.search;
  const doc = {
    version: 2,
    ethernets: {
      [GUEST_INTERFACE]: {
        match: { macaddress: spec.mac },
        "set-name": GUEST_INTERFACE,
        dhcp4: false,
        dhcp6: false,
        addresses: [spec.address.cidr],
        // `0.0.0.0/0` rather than `default`: older netplan and cloud-init's ENI/networkd renderers
        // only understand the numeric form.
        routes: [{ to: v6 ? "::/0" : "0.0.0.0/0", via: spec.address.gateway }],
        nameservers,
      },
    },
  };
  return stringify(doc, YAML_OPTIONS);
}

/**
 * NoCloud meta-data. The instance-id is `<hostname>-<12 hex of sha256(user-data, network-config)>`:
 * cloud-init runs its per-instance steps (users, keys, packages, disks, mounts, network) again when
 * the id changes, so a changed spec takes effect at the guest's next boot instead of being silently
 * ignored. The cost, accepted: that boot also regenerates the guest's SSH host keys. Data disks
 * are safe on a re-run: the data-disk script formats only a device that reads as blank.
 */
export function renderMetaData(spec: GuestSpec): string {
  return stringify({ "instance-id": instanceId(spec), "local-hostname": spec.hostname }, YAML_OPTIONS);
}

export function instanceId(spec: GuestSpec): string {
  const digest = createHash("sha256").update(renderUserData(spec)).update("\0").update(renderNetworkConfig(spec)).digest("hex");
  return `${spec.hostname}-${digest.slice(0, 12)}`;
}

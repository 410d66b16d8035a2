// The bash scripts that create, update and delete one VM on its hypervisor. The NumaPinnedVm
// component sends this very text with @pulumi/command's remote.Command (wrapped by remoteCommand
// for the login shell) and the domain XML on stdin; the integration test runs it locally with bash.
// Pure: values in, script text out.
//
// Every value from TypeScript enters a script in one place, the block of assignments at its top,
// each shell-quoted; the rest of the text is constant and refers to those variables. Scripts are
// idempotent: running one again converges instead of failing.
import { posix } from "node:path";
import { shellQuote } from "../common/remote-script";
import { fieldProblem, InputError } from "../common/user-error";
import { BY_ID_DEVICE, BY_ID_DEVICE_HINT, DEFAULT_LIBVIRT_URI, LIBVIRT_URI, LIBVIRT_URI_HINT } from "../common/formats";

/** A disk image the scripts create (if missing) as a qcow2 file. */
export interface VolumeParams {
  /** Absolute path on the hypervisor, inside poolDir. */
  path: string;
  /** Virtual size in GiB. A larger size grows an existing file; a smaller one is refused. */
  sizeGiB: number;
}

export interface VmScriptParams {
  /** libvirt connection URI on the hypervisor. Default `qemu:///system`. */
  libvirtUri?: string;
  /** libvirt domain name; must equal the `<name>` of the domain XML given on stdin. */
  domainName: string;
  /** The host's pool directory (created if missing): holds every file of this VM, its own
   * directory and its hot disk. Every path the scripts create or delete must lie inside it:
   * delete never reaches outside. */
  poolDir: string;
  /** Base (backing) image on the hypervisor, qcow2, shared by VMs; read only, never deleted. */
  baseImage: string;
  /** The VM's OS disk: a qcow2 overlay on baseImage, created if missing, deleted with the VM. */
  osDiskPath: string;
  /** Virtual size of the OS overlay in GiB (at least the base image's virtual size). */
  osDiskGiB: number;
  /** Per-job staging disk (`/data/local`), plain qcow2; deleted with the VM. Default: none. */
  stagingDisk?: VolumeParams;
  /** The data VM's hot tier (`/data/hot`), plain qcow2. Data: KEPT on delete unless
   * deleteDataDisks; never attached to two domains, never swapped under a defined domain, and
   * never created afresh by an update (see converge). Default: none. */
  hotDisk?: VolumeParams;
  /** The data-lake block device passed through to the guest (`/dev/disk/by-id/...`). The scripts
   * NEVER touch it (no format, no delete), and never attach it while another domain has it;
   * delete only reports it as kept. Default: none. */
  dataDevice?: string;
  seed: {
    /** Directory where user-data, meta-data and network-config were uploaded, inside poolDir
     * (delete removes those three files and the directory if it is then empty). */
    dir: string;
    /** The NoCloud seed ISO to build (rebuilt on every create/update), inside poolDir. */
    isoPath: string;
  };
  /** After start, wait until the guest agent answers `guest-ping` (needs qemu-guest-agent in
   * the guest, which cloud-init installs). Switched off where no real OS boots (CI, blank disk). */
  waitForGuest: { enabled: boolean; timeoutSeconds: number };
  /** Delete also removes the hot disk. Default false: deleting a stack keeps the data. */
  deleteDataDisks?: boolean;
  /** The placement's pins, applied live by update when the domain is running (a VmPlacement
   * has these fields and can be passed as is). vcpupin[i] is the host thread of vCPU i. */
  pins: { vcpupin: number[]; emulatorpin: number[]; iothreadpin: number[] };
  /** I/O threads of the domain (ids 1..n), all pinned to pins.iothreadpin. Default 1. */
  iothreads?: number;
  /** Update's clean restart and delete: seconds to wait for an ACPI shutdown before `virsh
   * destroy`. Default 120. */
  shutdownTimeoutSeconds?: number;
}

const DOMAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/;

function fail(p: VmScriptParams, field: string, value: unknown, why: string): never {
  throw new InputError(fieldProblem(`VM scripts of '${p.domainName}'`, field, value, why));
}

// Looser than common/formats.ts's ABSOLUTE_PATH on purpose: these scripts quote every value, so a
// path with spaces or quotes is safe here (the tests prove it with hostile names); what this refuses
// is what could reach outside the pool. The stack schema's stricter rule is what users meet.
function checkAbsolute(p: VmScriptParams, field: string, path: string): void {
  if (!path.startsWith("/") || path.includes("\0") || /[\n\r]/.test(path) || posix.normalize(path) !== path || path === "/")
    fail(p, field, path, "must be an absolute, normalised path (no '..', '//' or trailing '/') other than /");
}

function checkInsidePool(p: VmScriptParams, field: string, path: string): void {
  checkAbsolute(p, field, path);
  if (!path.startsWith(p.poolDir + "/")) fail(p, field, path, `must lie inside poolDir ${p.poolDir}: delete removes it, and must never reach outside the pool`);
}

function checkInt(p: VmScriptParams, field: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) fail(p, field, value, `must be an integer >= ${min}`);
}

function checkInts(p: VmScriptParams, field: string, values: number[], min: number): void {
  values.forEach((v, i) => {
    if (!Number.isInteger(v) || v < min) fail(p, `${field}[${i}]`, v, `must be an integer >= ${min}`);
  });
}

/** Throws one line naming the field, the value and what would fit; returns p with defaults. */
export function checkVmScriptParams(p: VmScriptParams): Required<Omit<VmScriptParams, "stagingDisk" | "hotDisk" | "dataDevice">> & VmScriptParams {
  if (!DOMAIN_NAME.test(p.domainName)) fail(p, "domainName", p.domainName, "must be 1-64 letters, digits, '_', '.', '+' or '-'");
  const libvirtUri = p.libvirtUri ?? DEFAULT_LIBVIRT_URI;
  if (!LIBVIRT_URI.test(libvirtUri)) fail(p, "libvirtUri", libvirtUri, LIBVIRT_URI_HINT);
  checkAbsolute(p, "poolDir", p.poolDir);
  checkAbsolute(p, "baseImage", p.baseImage);
  checkInsidePool(p, "osDiskPath", p.osDiskPath);
  checkInsidePool(p, "seed.isoPath", p.seed.isoPath);
  checkInsidePool(p, "seed.dir", p.seed.dir);
  if (p.stagingDisk) checkInsidePool(p, "stagingDisk.path", p.stagingDisk.path);
  if (p.hotDisk) checkInsidePool(p, "hotDisk.path", p.hotDisk.path);
  if (p.dataDevice !== undefined && !BY_ID_DEVICE.test(p.dataDevice)) fail(p, "dataDevice", p.dataDevice, BY_ID_DEVICE_HINT);
  const files: Array<[string, string]> = [["osDiskPath", p.osDiskPath], ["seed.isoPath", p.seed.isoPath]];
  if (p.stagingDisk) files.push(["stagingDisk.path", p.stagingDisk.path]);
  if (p.hotDisk) files.push(["hotDisk.path", p.hotDisk.path]);
  for (const [i, [field, path]] of files.entries()) {
    if (path === p.baseImage) fail(p, field, path, "is the base image, which other VMs share: give the VM its own file");
    const earlier = files.slice(0, i).find(([, other]) => other === path);
    if (earlier) fail(p, field, path, `is already ${earlier[0]}`);
  }
  checkInt(p, "osDiskGiB", p.osDiskGiB, 1);
  if (p.stagingDisk) checkInt(p, "stagingDisk.sizeGiB", p.stagingDisk.sizeGiB, 1);
  if (p.hotDisk) checkInt(p, "hotDisk.sizeGiB", p.hotDisk.sizeGiB, 1);
  checkInt(p, "waitForGuest.timeoutSeconds", p.waitForGuest.timeoutSeconds, 1);
  if (p.pins.vcpupin.length === 0) fail(p, "pins.vcpupin", [], "a VM has at least one vCPU");
  checkInts(p, "pins.vcpupin", p.pins.vcpupin, 0);
  checkInts(p, "pins.emulatorpin", p.pins.emulatorpin, 0);
  checkInts(p, "pins.iothreadpin", p.pins.iothreadpin, 0);
  const iothreads = p.iothreads ?? 1;
  checkInt(p, "iothreads", iothreads, 0);
  const shutdownTimeoutSeconds = p.shutdownTimeoutSeconds ?? 120;
  checkInt(p, "shutdownTimeoutSeconds", shutdownTimeoutSeconds, 1);
  return { ...p, libvirtUri, deleteDataDisks: p.deleteDataDisks ?? false, iothreads, shutdownTimeoutSeconds };
}

const q = shellQuote;
const list = (ids: number[]) => ids.join(",");

/** `variable=value` (or an array of values), quoted; values are literal by design, so shellcheck's
 * "expressions don't expand in single quotes" hint (SC2016) is silenced where one holds a $ or `. */
function assign(variable: string, value: string | string[]): string {
  const text = Array.isArray(value) ? `(${value.map(q).join(" ")})` : q(value);
  const hint = /[$`]/.test(Array.isArray(value) ? value.join("") : value) ? "# shellcheck disable=SC2016\n" : "";
  return `${hint}${variable}=${text}`;
}

/** The header every script starts with: strict mode and the quoted values. */
function header(what: string, p: ReturnType<typeof checkVmScriptParams>): string {
  return `#!/usr/bin/env bash
# numa-k3s: ${what} of VM ${p.domainName.replace(/[^A-Za-z0-9_.+-]/g, "?")}. Generated by hypervisor/vm-scripts.ts.
set -euo pipefail
shopt -s inherit_errexit

${assign("uri", p.libvirtUri)}
${assign("name", p.domainName)}
shutdown_timeout=${p.shutdownTimeoutSeconds}
`;
}

// Shared shell functions. Messages go to stderr so that stdout stays free for callers.
const FUNCTIONS = `
say() { printf 'numa-k3s %s: %s\\n' "$name" "$*" >&2; }
die() { say "error: $*"; exit 1; }
v() { virsh -q -c "$uri" "$@"; }
exists() { v dominfo "$name" >/dev/null 2>&1; }
state() { v domstate "$name" 2>/dev/null | head -n 1; }

# Shuts the domain down the way a guest expects (ACPI) and waits for "shut off", so that the
# guest's filesystems, the kept data disks' among them, are clean. A hard power-off (virsh
# destroy) only when the guest did not shut down within $shutdown_timeout s, saying so.
shut_down() {
  local deadline
  [[ $(state) != "shut off" ]] || return 0
  if ! v shutdown "$name" >/dev/null 2>&1; then
    say "the guest cannot be asked to shut down (domain is '$(state)'); destroying (a hard power-off)"
    v destroy "$name" >/dev/null
    return
  fi
  deadline=$((SECONDS + shutdown_timeout))
  until [[ $(state) == "shut off" ]] || ((SECONDS >= deadline)); do sleep 1; done
  if [[ $(state) == "shut off" ]]; then
    say "shut down cleanly"
  else
    say "no clean shutdown within $shutdown_timeout s; destroying (a hard power-off)"
    v destroy "$name" >/dev/null
  fi
}
`;

/** Volumes, seed ISO, define and autostart: what create and update share. `script` says which runs
 * it: an update never creates a hot disk afresh for a domain that is not there. */
function converge(p: ReturnType<typeof checkVmScriptParams>, script: "create" | "update"): string {
  const vars = [
    `script=${script}`,
    assign("pool_dir", p.poolDir),
    assign("base_image", p.baseImage),
    assign("os_disk", p.osDiskPath),
    `os_disk_gib=${p.osDiskGiB}`,
    assign("staging_disk", p.stagingDisk?.path ?? ""),
    `staging_disk_gib=${p.stagingDisk?.sizeGiB ?? 0}`,
    assign("hot_disk", p.hotDisk?.path ?? ""),
    `hot_disk_gib=${p.hotDisk?.sizeGiB ?? 0}`,
    assign("seed_dir", p.seed.dir),
    assign("seed_iso", p.seed.isoPath),
    assign("data_device", p.dataDevice ?? ""),
  ].join("\n");
  return `${vars}

# The domain XML arrives on stdin; read it first so that no later command can consume it.
domain_xml=$(cat)
[[ -n $domain_xml ]] || die "no domain XML on stdin"
grep -qF "<name>$name</name>" <<<"$domain_xml" || die "the domain XML on stdin does not define <name>$name</name>"

command -v virsh >/dev/null || die "virsh is not installed on $(hostname)"
command -v qemu-img >/dev/null || die "qemu-img is not installed on $(hostname)"
[[ -f $base_image ]] || die "base image $base_image does not exist on $(hostname)"
# The lake disk is passed through as it is: it must be there (a typo in its by-id name would
# otherwise leave the guest without its data, or libvirt refusing the domain half-way).
if [[ -n $data_device && ! -b $data_device ]]; then
  die "lake device $data_device is not a block device on $(hostname): check the disk's name with ls -l /dev/disk/by-id/"
fi

# 1. The data disks stay with their data, checked before anything is created or changed.
#    a. A disk another domain has (the lake, the hot disk) is never attached to this one as well:
#       two guests writing one filesystem destroy it. This also stops a rename, whose new VM
#       Pulumi creates before it deletes the old one.
#    b. A defined domain's hot disk (the lake's metadata) is never swapped for another file, and
#       an update never creates it afresh where the domain is not: either would leave the
#       metadata behind and make the objects on the lake unreachable.

# Every disk source of domain $1 (live and persistent definitions), as canonical paths.
disk_sources() {
  { v domblklist "$1" 2>/dev/null; v domblklist "$1" --inactive 2>/dev/null; } |
    sed -n 's/^ *[^ ][^ ]*  *//p' | grep -vx -- '-' | while IFS= read -r source; do readlink -m -- "$source"; done
}
# (Listed first, then searched: \`grep -q\` on a pipe would stop reading at the first match, and
# under pipefail the writer's closed pipe would read as "not found".)
refuse_shared() {
  local what=$1 path=$2 canonical other sources
  [[ -n $path ]] || return 0
  canonical=$(readlink -m -- "$path")
  while IFS= read -r other; do
    [[ -n $other && $other != "$name" ]] || continue
    sources=$(disk_sources "$other")
    if grep -qxF -- "$canonical" <<<"$sources"; then
      die "$what $path is attached to domain $other already: two domains never share a disk (both would write the filesystem on it). If $name replaces $other (a rename), remove $other from the stack and run pulumi up first (it is shut down and deleted; its hot disk and the lake are kept), then add $name"
    fi
  done < <(v list --all --name)
}
refuse_shared "lake device" "$data_device"
refuse_shared "hot disk" "$hot_disk"

# The file of this domain's defined disk with serial $1 (the guest finds its disks by serial).
# awk reads to the end: virsh must not die of a closed pipe (pipefail would stop the script).
defined_disk() {
  v dumpxml --inactive "$name" | awk -v serial="<serial>$1</serial>" '
    /<disk / { file = "" }
    /<source (file|dev)=/ { line = $0; sub(/.*<source (file|dev)=\\047/, "", line); sub(/\\047.*/, "", line); file = line }
    index($0, serial) && !found { print file; found = 1 }' |
    sed -e "s/&apos;/'/g" -e 's/&quot;/"/g' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\\&/g'
}
moving="remove $name from the stack and run pulumi up (it is shut down and deleted; its hot disk and the lake are kept), move its hot disk to $hot_disk where it is to run, then add it back"
if [[ -n $hot_disk ]]; then
  if exists; then
    os_was=$(defined_disk os)
    hot_was=$(defined_disk hot)
    if [[ -n $os_was && $os_was != "$os_disk" ]]; then
      die "$name would move from $os_was to $os_disk (its poolDir changed): a VM with a hot disk is never moved by an update, or its hot disk $hot_was would stay behind. To move it: $moving"
    fi
    if [[ -n $hot_was && $hot_was != "$hot_disk" && -e $hot_was ]]; then
      if [[ -e $hot_disk ]]; then
        die "$name's hot disk is $hot_was, and $hot_disk exists as well: which one holds the lake's metadata is yours to say; move the other one away, then run pulumi up again"
      fi
      die "$name's hot disk would change from $hot_was to $hot_disk, leaving the lake's metadata behind. To keep it: virsh -c $uri shutdown $name; mv -n -- $hot_was $hot_disk; then run pulumi up again"
    fi
  elif [[ $script == update && ! -e $hot_disk ]]; then
    die "$name is not defined on $(hostname) ($uri) and its hot disk $hot_disk is not there: its host, libvirt.uri or poolDir changed (or the domain was undefined by hand). An update never creates a hot disk afresh: the lake's metadata would stay behind. To move it: $moving; to run it where it was, set those keys back"
  fi
fi
mkdir -p "$pool_dir"

# 2. Volumes. Each is created under a temporary name and renamed once complete, so the final name
#    never holds a half-written image: an interrupted run leaves only the temporary file, which
#    the next run removes. An existing file is used only when it is the image this VM expects
#    (qcow2; the OS disk an overlay on the base image). A file that holds nothing at all (what an
#    interrupted run of an older version left) is created again; anything else is refused,
#    untouched. An image in use keeps its data and is grown when its size went up (a running
#    domain through libvirt, which tells the guest; the guest grows its filesystem at its next
#    boot). A smaller size is refused: shrinking would cut off the data at its end.
top_field() { sed -n "s/^    \\"$1\\": //p" | sed 's/,$//'; }
json_string() {
  local s=$1
  s=\${s//\\\\/\\\\\\\\}
  s=\${s//\\"/\\\\\\"}
  printf '"%s"' "$s"
}
# No image format qemu-img knows, and not one byte of data: nothing is lost by creating it again.
holds_nothing() {
  local map
  [[ $(qemu-img info -U --output=json "$1" 2>/dev/null | top_field format) == '"raw"' ]] || return 1
  map=$(qemu-img map -U -f raw --output=json "$1" 2>/dev/null) || return 1
  ! grep -q '"data": true' <<<"$map"
}
make_volume() {
  local role=$1 path=$2 gib=$3 partial info format backing have want s
  [[ -n $path ]] || return 0
  partial="$path.partial"
  rm -f -- "$partial"
  if [[ -e $path ]] && holds_nothing "$path"; then
    rm -f -- "$path"
    say "$role disk $path held nothing (an interrupted create left it): creating it again"
  fi
  if [[ ! -e $path ]]; then
    mkdir -p -- "$(dirname -- "$path")"
    if [[ $role == OS ]]; then
      qemu-img create -q -f qcow2 -F qcow2 -b "$base_image" "$partial" "\${gib}G"
    else
      qemu-img create -q -f qcow2 "$partial" "\${gib}G"
    fi
    mv -f -- "$partial" "$path"
    if [[ $role == OS ]]; then say "created OS disk $path (\${gib} GiB overlay on $base_image)"; else say "created $role disk $path (\${gib} GiB)"; fi
    return 0
  fi
  info=$(qemu-img info -U --output=json "$path") || die "$role disk $path cannot be read by qemu-img info: not touched"
  format=$(top_field format <<<"$info")
  if [[ $format != '"qcow2"' ]]; then
    die "$role disk $path is not a qcow2 image (qemu-img reads it as $format) and holds data: not the image this VM uses, so not touched; move it away if it is not needed"
  fi
  if [[ $role == OS ]]; then
    backing=$(top_field backing-filename <<<"$info")
    if [[ $backing != "$(json_string "$base_image")" ]]; then
      die "OS disk $path is an overlay on \${backing:-no base image}, not on $base_image: not this VM's, so not touched; move it away if it is not needed"
    fi
  fi
  have=$(top_field virtual-size <<<"$info")
  [[ -n $have ]] || die "cannot read the size of $role disk $path (qemu-img info)"
  want=$((gib * 1073741824))
  if ((want == have)); then
    say "$role disk $path exists, kept"
  elif ((want < have)); then
    die "$role disk $path is $((have / 1073741824)) GiB and the stack asks for \${gib} GiB: disks are never shrunk (its data would be cut off); set the size back to at least $((have / 1073741824))"
  else
    s=$(state || true)
    if [[ $s == running || $s == paused ]]; then
      v blockresize "$name" "$path" "\${gib}G" >/dev/null
    else
      qemu-img resize -q "$path" "\${gib}G"
    fi
    say "grew $role disk $path from $((have / 1073741824)) to \${gib} GiB"
  fi
}
make_volume OS "$os_disk" "$os_disk_gib"
make_volume staging "$staging_disk" "$staging_disk_gib"
make_volume hot "$hot_disk" "$hot_disk_gib"

# 3. The NoCloud seed ISO, rebuilt every time from the uploaded files (they may have changed).
#    Built next to the target and renamed, so a running guest keeps reading the old one intact.
for f in user-data meta-data network-config; do
  [[ -f $seed_dir/$f ]] || die "seed file $seed_dir/$f is missing (upload user-data, meta-data and network-config first)"
done
iso_tmp="$seed_iso.partial"
rm -f -- "$iso_tmp"
if command -v cloud-localds >/dev/null; then
  cloud-localds --network-config="$seed_dir/network-config" "$iso_tmp" "$seed_dir/user-data" "$seed_dir/meta-data"
  seed_tool=cloud-localds
elif command -v genisoimage >/dev/null; then
  (cd "$seed_dir" && genisoimage -quiet -output "$iso_tmp" -volid cidata -joliet -rock user-data meta-data network-config)
  seed_tool=genisoimage
else
  die "neither cloud-localds (cloud-image-utils) nor genisoimage is installed on $(hostname)"
fi
mv -f "$iso_tmp" "$seed_iso"
say "built seed ISO $seed_iso with $seed_tool"
# A running QEMU keeps the replaced ISO open (the old inode): without a media change the guest's
# next reboot would read the old seed. The CD-ROM is the domain XML's sda (topology/domain-xml.ts).
s=$(state || true)
if [[ $s == running || $s == paused ]]; then
  # The same path again is a no-op for libvirt: eject, then insert, so QEMU opens the new file.
  v change-media "$name" sda --eject --force --live >/dev/null
  v change-media "$name" sda "$seed_iso" --insert --live >/dev/null
  say "seed ISO re-inserted into the running guest"
fi

# 4. Define (re-defining an existing domain replaces its persistent config) and autostart.
#    libvirt identifies a domain by its UUID: XML without one would get a fresh UUID and be
#    refused as a second domain of the same name, so an existing domain's UUID is carried over.
if exists && ! grep -q '<uuid>' <<<"$domain_xml"; then
  uuid=$(v domuuid "$name")
  domain_xml=\${domain_xml/"</name>"/"</name><uuid>$uuid</uuid>"}
fi
v define /dev/stdin <<<"$domain_xml" >/dev/null
say "defined"
v autostart "$name" >/dev/null
`;
}

const START_AND_WAIT = (p: ReturnType<typeof checkVmScriptParams>) => `
start_if_stopped() {
  local s
  s=$(state)
  case $s in
    running) say "running" ;;
    paused) v resume "$name" >/dev/null; say "resumed" ;;
    "shut off" | crashed) v start "$name" >/dev/null; say "started" ;;
    *) die "domain is '$s'; expected running, paused or shut off" ;;
  esac
}

${p.waitForGuest.enabled ? WAIT_FOR_GUEST(p.waitForGuest.timeoutSeconds) : NO_WAIT_FOR_GUEST}`;

const WAIT_FOR_GUEST = (timeoutSeconds: number) => `
wait_for_guest() {
  local timeout=${timeoutSeconds}
  local deadline=$((SECONDS + timeout))
  until v qemu-agent-command "$name" '{"execute":"guest-ping"}' >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "the guest agent did not answer within $timeout s (is qemu-guest-agent installed and running in the guest?)"
    sleep 2
  done
  say "guest agent answers"
}
`;

const NO_WAIT_FOR_GUEST = `
wait_for_guest() { say "not waiting for the guest agent (waitForGuest is off)"; }
`;

/**
 * Create the VM, or converge an existing one to the given definition: volumes created only if
 * missing, seed ISO rebuilt, domain (re-)defined and autostarted, started unless already running,
 * then optionally wait for the guest agent. A running domain is not re-pinned or restarted here
 * (that is update's job); its new definition applies at its next start.
 */
export function createScript(params: VmScriptParams): string {
  const p = checkVmScriptParams(params);
  return `${header("create", p)}${FUNCTIONS}${START_AND_WAIT(p)}${converge(p, "create")}
# 5. Start unless running, then wait for the guest if asked.
start_if_stopped
wait_for_guest
`;
}

/**
 * Update: everything create does (new volumes, seed ISO, re-define, autostart), then for a running
 * domain:
 * - if its vCPU count, memory size, memory NUMA policy/nodeset or huge-page backing differ from
 *   the new definition, those cannot change under a running guest: say so and restart cleanly
 *   (ACPI shutdown, up to shutdownTimeoutSeconds, then destroy, then start from the new config);
 * - otherwise apply the pins live (`vcpupin`/`emulatorpin`/`iothreadpin --live`): no restart.
 * Other device changes (disks, NIC) are in the persistent config and apply at the next start.
 * A stopped domain is started.
 */
export function updateScript(params: VmScriptParams): string {
  const p = checkVmScriptParams(params);
  return `${header("update", p)}${FUNCTIONS}${START_AND_WAIT(p)}${converge(p, "update")}
vcpupin=(${p.pins.vcpupin.join(" ")})
emulatorpin=${q(list(p.pins.emulatorpin))}
iothreadpin=${q(list(p.pins.iothreadpin))}
iothreads=${p.iothreads}

memory_kib() { v dumpxml "$@" "$name" | sed -n "s|.*<memory unit='KiB'>\\([0-9]*\\)</memory>.*|\\1|p"; }
hugepages() {
  local xml
  xml=$(v dumpxml "$@" "$name")
  if grep -q '<hugepages' <<<"$xml"; then echo yes; else echo no; fi
}

# 5. What the new definition changes that a running guest cannot take live.
restart_reasons() {
  local live config
  live=$(v vcpucount "$name" --maximum --live); config=$(v vcpucount "$name" --maximum --config)
  [[ $live == "$config" ]] || echo "vCPUs $live -> $config"
  live=$(memory_kib); config=$(memory_kib --inactive)
  [[ $live == "$config" ]] || echo "memory $live KiB -> $config KiB"
  live=$(v numatune "$name" --live | tr -s ' ' | paste -sd ' '); config=$(v numatune "$name" --config | tr -s ' ' | paste -sd ' ')
  [[ $live == "$config" ]] || echo "NUMA memory policy '$live' -> '$config'"
  live=$(hugepages); config=$(hugepages --inactive)
  [[ $live == "$config" ]] || echo "huge pages $live -> $config"
}

clean_restart() {
  shut_down
  v start "$name" >/dev/null
  say "restarted with the new definition"
}

if [[ $(state) == running ]]; then
  reasons=$(restart_reasons)
  if [[ -n $reasons ]]; then
    say "restart needed: $(paste -sd ';' <<<"$reasons")"
    clean_restart
  else
    for i in "\${!vcpupin[@]}"; do
      v vcpupin "$name" "$i" "\${vcpupin[$i]}" --live >/dev/null
    done
    if [[ -n $emulatorpin ]]; then v emulatorpin "$name" "$emulatorpin" --live >/dev/null; fi
    if [[ -n $iothreadpin ]]; then
      for ((t = 1; t <= iothreads; t++)); do v iothreadpin "$name" "$t" "$iothreadpin" --live >/dev/null; done
    fi
    say "pins applied live (vCPUs \${vcpupin[*]}; emulator $emulatorpin; iothreads $iothreadpin), no restart"
  fi
else
  start_if_stopped
fi
wait_for_guest
`;
}

/**
 * Delete: shut the guest down cleanly (ACPI, up to shutdownTimeoutSeconds; destroy only after
 * that, saying so), so the kept disks' filesystems are clean; undefine (with its NVRAM; plain
 * undefine where libvirt refuses the flag); remove the OS overlay, staging disk and seed ISO (and
 * the uploaded seed files, and any temporary file an interrupted create left). The hot disk is
 * kept unless deleteDataDisks; the passed-through data device is never touched. Prints what it
 * kept. Running it again finds nothing to do and succeeds.
 */
export function deleteScript(params: VmScriptParams): string {
  const p = checkVmScriptParams(params);
  const ownFiles = [p.osDiskPath, p.stagingDisk?.path, p.seed.isoPath].filter((x): x is string => x !== undefined);
  // An interrupted create's temporary files hold nothing yet: removed whatever deleteDataDisks says.
  const partials = [...ownFiles, ...(p.hotDisk ? [p.hotDisk.path] : [])].map((f) => `${f}.partial`);
  const removed = [...ownFiles, ...partials, ...(p.deleteDataDisks && p.hotDisk ? [p.hotDisk.path] : [])];
  const kept = !p.deleteDataDisks && p.hotDisk ? [p.hotDisk.path] : [];
  return `${header("delete", p)}${FUNCTIONS}
${assign("remove", removed)}
${assign("keep", kept)}
${assign("data_device", p.dataDevice ?? "")}
${assign("seed_dir", p.seed.dir)}

if exists; then
  shut_down
  if ! v undefine --nvram "$name" >/dev/null 2>&1; then
    v undefine "$name" >/dev/null
  fi
  say "undefined"
else
  say "no such domain, nothing to undefine"
fi

for f in "\${remove[@]}"; do
  if [[ -e $f ]]; then rm -f -- "$f"; say "removed $f"; fi
done
for f in user-data meta-data network-config; do rm -f -- "$seed_dir/$f"; done
rmdir -- "$seed_dir" 2>/dev/null || true

for f in "\${keep[@]}"; do
  say "kept data disk $f (deleteDataDisks is false)"
done
if [[ -n $data_device ]]; then say "kept passed-through device $data_device (never touched)"; fi
`;
}


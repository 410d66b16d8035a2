// What a host's preparation changed, kept on the host so that it can be undone exactly: which stack
// prepared it, each file it wrote with what was there before, the sysfs values it replaced, the
// hugetlbfs mounts it made, the tuned profile it switched from. The prepare script (scripts.ts) and
// the boot script write the record; the undo script (undo.ts) reads it and puts the host back.
//
// Layout of the record directory (STATE_DIR, created and removed only by these scripts):
//   owner                  `<project>/<stack>` of the stack that prepared the host
//   host                   the host's name in that stack
//   files/<id>.path        a file this preparation writes (the path on the host)
//   files/<id>.before      its content (and mode) before the first write; absent: there was none
//   files/<id>.ours        what this preparation last wrote there
//   irqbalance.line        the IRQBALANCE_BANNED_CPULIST line(s) the user had before (may be empty)
//   sysfs.list             `<path> <value>`: the value a sysfs file had before it was first written
//   mounts.list            `<dir> created|existed`: hugetlbfs mounts the boot script made
//   tuned.before           the tuned profile active before cpu-partitioning ("" when unknown)
//   pool.created           present when the storage pool directory did not exist before
//   undo.sh                the undo script, for a host whose stack is gone (run it by hand)

import { IRQBALANCE_FILE, IRQBALANCE_KEY } from "./irqbalance";

export const STATE_DIR = "/var/lib/numa-k3s/host-prep";

/** The files of its own the preparation writes (besides the tuned and irqbalance files it edits). */
export const TUNING_SCRIPT_PATH = "/usr/local/sbin/numa-k3s-host-tuning";
export const TUNING_UNIT = "numa-k3s-host-tuning.service";
export const TUNING_UNIT_PATH = `/etc/systemd/system/${TUNING_UNIT}`;
export const GRUB_DROPIN = "/etc/default/grub.d/numa-k3s.cfg";
/** Where the undo keeps what a file held before numa-k3s, when the user changed the file since. */
export const KEPT_DIR = "/var/lib/numa-k3s/kept";

/** Who prepared a host: the Pulumi project and stack. */
export function hostOwner(project: string, stack: string): string {
  return `${project}/${stack}`;
}

// Every path the host scripts touch starts with $root: "" on a host, a directory tree in the tests
// that run the scripts (NUMA_K3S_ROOT; sshd passes no such variable to a command).
export const ROOT_ASSIGNMENT = `root=\${NUMA_K3S_ROOT:-}`;

/** The paths the prepare and undo scripts both name, as bash assignments. */
export const RECORD_ASSIGNMENTS = `${ROOT_ASSIGNMENT}
state=$root${STATE_DIR}
kept=$root${KEPT_DIR}
grub_dropin=${GRUB_DROPIN}
irqbalance_file=${IRQBALANCE_FILE}
irqbalance_key=${IRQBALANCE_KEY}
unit_name=${TUNING_UNIT}`;

/**
 * Bash functions shared by the prepare and undo scripts (one definition, included in both). They
 * need $root, $state, $kept and say().
 */
export const RECORD_FUNCTIONS = `file_id() { printf '%s' "$1" | sha256sum | cut -c1-16; }
# A file whose first lines carry our generated header was written by numa-k3s (an earlier version
# that kept no record): there was nothing of the user's before it.
written_by_us() { head -n 3 "$1" 2>/dev/null | grep -q '^# numa-k3s: '; }
# Before a file is first written: a copy of what was there, or nothing when there was none.
record_file() {
  local path=$1 id
  id=$(file_id "$path")
  mkdir -p "$state/files"
  [[ ! -e $state/files/$id.path ]] || return 0
  if [[ -e $root$path ]] && ! written_by_us "$root$path"; then cp -p "$root$path" "$state/files/$id.before"; fi
  printf '%s\\n' "$path" >"$state/files/$id.path"
}
# After a write: what this preparation put there.
record_ours() { cp -p "$root$1" "$state/files/$(file_id "$1").ours"; }
# Put a file back as it was before this preparation first wrote it (removed if there was none).
# A file changed since it was written is left as it is (said); with a key (KEY=), only that key's
# line is put back, if it is still ours. Returns 0 when it changed the file.
restore_file() {
  local path=$1 key=\${2:-} id f
  id=$(file_id "$path")
  f=$root$path
  [[ -e $state/files/$id.path ]] || return 1
  if [[ ! -e $f ]] || cmp -s "$f" "$state/files/$id.ours"; then
    if [[ -e $state/files/$id.before ]]; then cp -p "$state/files/$id.before" "$f"; else rm -f "$f"; fi
    rm -f "$state/files/$id".*
    return 0
  fi
  if [[ -n $key ]] && [[ $(grep "^$key=" "$f" || true) == "$(grep "^$key=" "$state/files/$id.ours" || true)" ]]; then
    local before=""
    [[ ! -e $state/irqbalance.line ]] || before=$(<"$state/irqbalance.line")
    KEY="$key=" BEFORE="$before" awk 'index($0, ENVIRON["KEY"]) == 1 { if (!done && ENVIRON["BEFORE"] != "") print ENVIRON["BEFORE"]; done = 1; next } { print }' "$f" >"$f.numa-k3s.tmp"
    chmod --reference="$f" "$f.numa-k3s.tmp"
    mv -f "$f.numa-k3s.tmp" "$f"
    rm -f "$state/files/$id".*
    say "$path: put back its $key line; the rest of the file is as you changed it"
    return 0
  fi
  if [[ -e $state/files/$id.before ]]; then
    mkdir -p "$kept"
    cp -p "$state/files/$id.before" "$kept/$(basename "$path")"
    say "left $path as it is: it changed since numa-k3s wrote it; what was there before numa-k3s is in \${kept#"$root"}/$(basename "$path")"
  else
    say "left $path as it is: it changed since numa-k3s wrote it (there was no such file before)"
  fi
  rm -f "$state/files/$id".*
  return 1
}`;

#!/usr/bin/env bash
# Start or stop a real virtlogd + libvirtd by hand, for the integration test
# (test/integration/libvirtd.test.ts) on machines without systemd.
#
#   bash .ci/libvirtd.sh start   # idempotent; returns once `virsh -c qemu:///system version` answers
#   bash .ci/libvirtd.sh stop    # stops only the daemons this script started (by their pid files)
#   bash .ci/libvirtd.sh status
#
# State (pid files, logs) lives in $NUMA_K3S_LIBVIRTD_STATE (default /tmp/numa-k3s-libvirtd).
# If a libvirtd this script did not start already answers, `start` uses it and `stop` leaves it alone.
#
# A second, private libvirtd inside a network namespace, for the end-to-end test
# (test/e2e/guest-boot.test.ts), whose guests may only ever talk to addresses inside that namespace:
#
#   bash .ci/libvirtd.sh netns-start    # idempotent; netns + bridge + virtlogd + libvirtd inside it
#   bash .ci/libvirtd.sh netns-stop     # destroys its domains, stops its daemons, deletes the netns
#   bash .ci/libvirtd.sh netns-status
#   bash .ci/libvirtd.sh netns-uri      # prints the URI that reaches it from the root namespace
#
# $NUMA_K3S_NETNS (default numa-k3s-e2e) names the namespace, $NUMA_K3S_NETNS_BRIDGE (default br0,
# the product's default bridge) the bridge in it, $NUMA_K3S_NETNS_ADDRESS (default 10.77.0.1/24)
# the bridge's address, which is the guests' gateway and resolver.
#
# Why a second daemon rather than moving the one above into the namespace: a libvirtd puts every
# tap device into its own network namespace, so one inside the namespace would break every other
# test's bridge in the root namespace (and the other engineers' libvirtd on this machine). The
# private one runs in its own mount namespace with its own /run/libvirt, /var/lib/libvirt,
# /var/cache/libvirt, /var/log/libvirt and /etc/libvirt (a copy), so the two never see each
# other's sockets, domains or definitions; its socket is reached from the root namespace by path
# (`qemu:///system?socket=...`). It enters the network namespace with `nsenter --net`, not
# `ip netns exec`: the latter remounts /sys, which drops the cgroup mounts libvirt pins through.
set -euo pipefail

state_dir=${NUMA_K3S_LIBVIRTD_STATE:-/tmp/numa-k3s-libvirtd}
uri=qemu:///system
log_file="$state_dir/libvirtd.log"
start_timeout=${NUMA_K3S_LIBVIRTD_TIMEOUT:-30}

say() { printf 'libvirtd.sh: %s\n' "$*" >&2; }

# The pid in FILE if that process is alive and is the daemon we expect (guards against pid reuse).
live_pid() {
  local file=$1 name=$2 pid comm
  [[ -s $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  [[ $comm == "$name" ]] || return 1
  printf '%s\n' "$pid"
}

answers() { virsh -c "$uri" version >/dev/null 2>&1; }

start_daemon() {
  local name=$1 bin=$2
  local pid_file="$state_dir/$name.pid"
  if live_pid "$pid_file" "$name" >/dev/null; then
    say "$name already running (pid $(live_pid "$pid_file" "$name"))"
    return 0
  fi
  rm -f "$pid_file"
  # -d forks into the background and writes the pid file; logging goes to our log file.
  LIBVIRT_LOG_OUTPUTS="3:file:$log_file" "$bin" -d -p "$pid_file"
  say "started $name (pid file $pid_file, log $log_file)"
}

stop_daemon() {
  local name=$1
  local pid_file="$state_dir/$name.pid" pid i
  if ! pid=$(live_pid "$pid_file" "$name"); then
    rm -f "$pid_file"
    say "$name: not started by this script (no live pid file), left alone"
    return 0
  fi
  kill -TERM "$pid"
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
    kill -KILL "$pid"
  fi
  rm -f "$pid_file"
  say "stopped $name (pid $pid)"
}

# Without udev, /dev/kvm stays root-only (0600), which QEMU's user cannot open. libvirt's capability
# cache then finds KVM "gone" on every lookup ("KVM was enabled when probing ..., but it is not
# available now") and probes QEMU again: 3-4 s on every virsh call that needs the capabilities
# (define, start, dumpxml, vcpupin...). Give the node the mode udev gives it on Debian
# (0660 root:kvm). Domains of type qemu still run under TCG.
kvm_like_udev() {
  [[ -c /dev/kvm ]] || return 0
  if [[ $(stat -c %a:%G /dev/kvm) != 660:kvm ]] && getent group kvm >/dev/null; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
    say "/dev/kvm set to 0660 root:kvm, as udev would"
  fi
}

start() {
  mkdir -p "$state_dir"
  if answers && ! live_pid "$state_dir/libvirtd.pid" libvirtd >/dev/null; then
    say "a libvirtd not started by this script already answers on $uri; using it"
    return 0
  fi
  kvm_like_udev
  start_daemon virtlogd /usr/sbin/virtlogd
  start_daemon libvirtd /usr/sbin/libvirtd
  local i
  for ((i = 0; i < start_timeout * 10; i++)); do
    if answers; then
      say "$uri answers: $(virsh -c "$uri" version 2>/dev/null | grep -i 'running hypervisor' || true)"
      return 0
    fi
    sleep 0.1
  done
  say "$uri did not answer within ${start_timeout} s; see $log_file"
  tail -n 20 "$log_file" >&2 2>/dev/null || true
  return 1
}

stop() {
  # libvirtd first: it holds connections to virtlogd for running domains' consoles.
  stop_daemon libvirtd
  stop_daemon virtlogd
}

status() {
  local name pid
  for name in virtlogd libvirtd; do
    if pid=$(live_pid "$state_dir/$name.pid" "$name"); then
      say "$name running (pid $pid)"
    else
      say "$name not started by this script"
    fi
  done
  if answers; then say "$uri answers"; else say "$uri does not answer"; return 1; fi
}

netns=${NUMA_K3S_NETNS:-numa-k3s-e2e}
netns_bridge=${NUMA_K3S_NETNS_BRIDGE:-br0}
netns_address=${NUMA_K3S_NETNS_ADDRESS:-10.77.0.1/24}
netns_dir="$state_dir/netns-$netns"
netns_uri="qemu:///system?socket=$netns_dir/_run_libvirt/libvirt-sock"
# The directories the private daemon gets a copy or an empty one of, under $netns_dir.
private_dirs=(/run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /etc/libvirt)

netns_answers() { virsh -c "$netns_uri" version >/dev/null 2>&1; }

netns_exists() { [[ -e /run/netns/$netns ]]; }

netns_network() {
  if ! netns_exists; then
    ip netns add "$netns"
    : >"$netns_dir/netns.created"
    say "created network namespace $netns"
  fi
  ip -n "$netns" link set lo up
  if ! ip -n "$netns" link show "$netns_bridge" >/dev/null 2>&1; then
    ip -n "$netns" link add "$netns_bridge" type bridge
  fi
  if ! ip -n "$netns" -4 addr show dev "$netns_bridge" | grep -qF " ${netns_address} "; then
    ip -n "$netns" addr add "$netns_address" dev "$netns_bridge"
  fi
  ip -n "$netns" link set "$netns_bridge" up
}

# The inside of the private mount namespace: private directories over the system ones, then both
# daemons. Runs as `bash -c` under unshare, so it gets its values as arguments.
# shellcheck disable=SC2016
netns_launch='
  set -euo pipefail
  dir=$1; log=$2; shift 2
  for d in "$@"; do mount --bind "$dir/${d//\//_}" "$d"; done
  if [[ -c /dev/kvm ]]; then mount --bind "$dir/kvm" /dev/kvm; fi
  LIBVIRT_LOG_OUTPUTS="3:file:$log" /usr/sbin/virtlogd -d -p "$dir/virtlogd.pid"
  LIBVIRT_LOG_OUTPUTS="3:file:$log" /usr/sbin/libvirtd -d -p "$dir/libvirtd.pid"
'

netns_start() {
  mkdir -p "$netns_dir"
  netns_network
  local log="$netns_dir/libvirtd.log" d private
  if live_pid "$netns_dir/libvirtd.pid" libvirtd >/dev/null && live_pid "$netns_dir/virtlogd.pid" virtlogd >/dev/null; then
    say "private libvirtd in $netns already running (pid $(live_pid "$netns_dir/libvirtd.pid" libvirtd))"
  else
    # One half alive is no state to build on: both run in one mount namespace, made afresh.
    netns_stop_daemons
    for d in "${private_dirs[@]}"; do
      private="$netns_dir/${d//\//_}"
      if [[ ! -d $private ]]; then
        mkdir -p "$private"
        if [[ $d == /etc/libvirt ]]; then
          # The machine's configuration, without its domains and networks: those are the other daemon's.
          cp -a /etc/libvirt/. "$private/"
          rm -rf "$private/qemu" && mkdir -p "$private/qemu/networks/autostart" "$private/qemu/autostart"
        fi
        if [[ $d == /var/lib/libvirt ]]; then
          # QEMU runs as libvirt-qemu and needs its directory the way the package makes it.
          mkdir -p "$private/qemu" && chown --reference=/var/lib/libvirt/qemu "$private/qemu" && chmod --reference=/var/lib/libvirt/qemu "$private/qemu"
        fi
      fi
    done
    # Without udev, /dev/kvm stays root-only (0600), which QEMU's user cannot open; libvirt's
    # capability cache then finds KVM "gone" on every lookup and probes QEMU again, a few seconds
    # per virsh call, for ever. Inside the private namespace only, /dev/kvm is the node udev would
    # make on Debian (0660 root:kvm). Domains of type qemu still run under TCG.
    if [[ -c /dev/kvm ]]; then
      rm -f "$netns_dir/kvm"
      mknod -m 0660 "$netns_dir/kvm" c "$((0x$(stat -c %t /dev/kvm)))" "$((0x$(stat -c %T /dev/kvm)))"
      chown root:kvm "$netns_dir/kvm"
    fi
    nsenter --net="/run/netns/$netns" unshare --mount --propagation private \
      bash -c "$netns_launch" netns-launch "$netns_dir" "$log" "${private_dirs[@]}"
    say "started private virtlogd + libvirtd in $netns (log $log)"
  fi
  local i
  for ((i = 0; i < start_timeout * 10; i++)); do
    if netns_answers; then
      say "$netns_uri answers; bridge $netns_bridge $netns_address in $netns"
      return 0
    fi
    sleep 0.1
  done
  say "$netns_uri did not answer within ${start_timeout} s; see $log"
  tail -n 20 "$log" >&2 2>/dev/null || true
  return 1
}

netns_stop_daemons() {
  local name pid_file pid i
  for name in libvirtd virtlogd; do
    pid_file="$netns_dir/$name.pid"
    if ! pid=$(live_pid "$pid_file" "$name"); then
      rm -f "$pid_file"
      continue
    fi
    kill -TERM "$pid"
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
    rm -f "$pid_file"
    say "stopped private $name (pid $pid)"
  done
}

netns_stop() {
  local dom
  if netns_answers; then
    # Only this daemon's domains (test guests): a QEMU left running would keep the namespace and
    # its loop devices busy after the daemons are gone.
    while read -r dom; do
      [[ -n $dom ]] || continue
      virsh -q -c "$netns_uri" destroy "$dom" >/dev/null 2>&1 || true
      say "destroyed leftover domain $dom"
    done < <(virsh -q -c "$netns_uri" list --name 2>/dev/null)
  fi
  netns_stop_daemons
  if [[ -e $netns_dir/netns.created ]] && netns_exists; then
    ip netns del "$netns"
    say "deleted network namespace $netns"
  fi
  rm -f "$netns_dir/netns.created"
}

netns_status() {
  local name pid rc=0
  for name in virtlogd libvirtd; do
    if pid=$(live_pid "$netns_dir/$name.pid" "$name"); then say "private $name running (pid $pid)"; else say "private $name not running"; rc=1; fi
  done
  if netns_exists; then say "network namespace $netns exists"; else say "no network namespace $netns"; rc=1; fi
  if netns_answers; then say "$netns_uri answers"; else say "$netns_uri does not answer"; rc=1; fi
  return "$rc"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  netns-start) netns_start ;;
  netns-stop) netns_stop ;;
  netns-status) netns_status ;;
  netns-uri) printf '%s\n' "$netns_uri" ;;
  *)
    say "usage: bash .ci/libvirtd.sh start|stop|status|netns-start|netns-stop|netns-status|netns-uri"
    exit 2
    ;;
esac

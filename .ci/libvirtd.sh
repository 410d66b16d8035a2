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

start() {
  mkdir -p "$state_dir"
  if answers && ! live_pid "$state_dir/libvirtd.pid" libvirtd >/dev/null; then
    say "a libvirtd not started by this script already answers on $uri; using it"
    return 0
  fi
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

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    say "usage: bash .ci/libvirtd.sh start|stop|status"
    exit 2
    ;;
esac

#!/usr/bin/env bash
# scripts/slurm-local-stop.sh — stop the daemons that scripts/slurm-local-start.sh started
# (project copy of shared/notes/stop-local-slurm.sh),
# found by the PID files it keeps under $CST_SLURM_RUN (default /run/cst-slurm).
# Never kills by name; a PID is only signalled if /proc/PID/comm still names
# the expected daemon. A munged this script did not start is left alone.
#
# Before stopping, all jobs of this private test cluster are cancelled (their
# processes would otherwise outlive slurmd); CST_SLURM_KEEP_JOBS=1 skips that.
set -uo pipefail
RUN=${CST_SLURM_RUN:-/run/cst-slurm}
say() { echo "slurm-local: $*"; }

running() {  # running PID COMM -> 0 if PID is a live (not zombie) COMM process
  local pid=$1 comm=$2 st
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$comm" ] || return 1
  # PID 1 on these machines reaps orphans late: an exited daemon stays a zombie ~1 s
  st=$(sed 's/^.*) //' /proc/$pid/stat 2>/dev/null | cut -d' ' -f1)
  [ -n "$st" ] && [ "$st" != Z ]
}
alive_pid() {  # alive_pid PIDFILE COMM -> prints pid if running COMM
  local pf=$1 comm=$2 pid
  [ -s "$pf" ] || return 1
  pid=$(cat "$pf" 2>/dev/null) || return 1
  running "$pid" "$comm" && echo "$pid"
}

stop_one() {  # stop_one NAME
  local name=$1 pf="$RUN/$1.pid" pid
  if pid=$(alive_pid "$pf" "$name"); then
    local t0=$SECONDS
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 300); do running "$pid" "$name" || break; sleep 0.1; done
    if running "$pid" "$name"; then
      say "$name (pid $pid) ignored SIGTERM for 30s, sending SIGKILL"; kill -KILL "$pid" 2>/dev/null
    fi
    say "stopped $name (pid $pid, $((SECONDS - t0))s)"
  else
    say "$name: not running from $pf"
  fi
  rm -f "$pf"
}

if [ "${CST_SLURM_KEEP_JOBS:-0}" != 1 ] && alive_pid "$RUN/slurmctld.pid" slurmctld >/dev/null \
   && alive_pid "$RUN/slurmd.pid" slurmd >/dev/null; then
  if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
    say "cancelling remaining jobs"
    scancel $(squeue -h -o %F 2>/dev/null | sort -u) 2>/dev/null || true
    for _ in $(seq 1 80); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.25; done
  fi
fi

stop_one slurmd
stop_one slurmctld
# accounting daemons exist only after CST_SLURM_ACCOUNTING=1
for d in slurmdbd mariadbd; do [ -e "$RUN/$d.pid" ] && stop_one "$d"; done
stop_one munged
[ -d "$RUN" ] && rmdir "$RUN" 2>/dev/null
exit 0

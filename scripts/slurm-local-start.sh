#!/usr/bin/env bash
# scripts/slurm-local-start.sh — bring up a single-node Slurm cluster on localhost
# for cst-batch's real-Slurm tests (test/slurm/). Project copy of the recipe in
# shared/notes/start-local-slurm.sh (see slurm-local.md there for the measurements and pitfalls);
# differences: CST_SLURM_CPUS defaults to 8.
# (Debian 12 packages, Slurm 22.05, munge), no systemd; cgroups only with CST_SLURM_MEMORY=cgroup.
#
# Idempotent: if munged/slurmctld/slurmd are already running (started by this
# script, PID files under $CST_SLURM_RUN), they are left alone and the script
# only waits for the node to be usable (if the knobs below changed slurm.conf,
# slurmctld+slurmd are restarted with their jobs kept).
# Installs the Debian packages it needs if they are missing (apt-get).
# Exits 0 and prints "slurm-local: node localhost is idle ..." when ready;
# exits non-zero with a clear message if the node is not usable within
# $CST_SLURM_TIMEOUT seconds (default 60).
#
# Must run as root. Stop with scripts/slurm-local-stop.sh.
#
# Environment knobs (all optional):
#   CST_SLURM_CPUS=N        CPUs the node advertises (default 8 for the tests;
#                           `real` = the count from `slurmd -C`). Larger than the real count is allowed
#                           (SlurmdParameters=config_overrides), e.g. 8 so that
#                           8 one-CPU array tasks run at once on a 2-core box.
#   CST_SLURM_PBS=1         also install slurm-wlm-torque (qsub/qstat/qdel perl
#                           wrappers) and enable spank_pbs (PBS_* variables in
#                           every job). Set 0 to skip. Default 1.
#   CST_SLURM_NO_INSTALL=1  never call apt-get; fail if packages are missing.
#   CST_SLURM_KEEP_STATE=1  keep old jobs/job ids across a fresh start
#                           (default: slurmctld -c, i.e. a clean queue).
#   CST_SLURM_TIMEOUT=60    seconds to wait for the node to become idle.
#   CST_SLURM_ACCOUNTING=1  also run MariaDB + slurmdbd so that `sacct` works
#                           (installs mariadb-server and slurmdbd; ~10 s more
#                           the first time). Default 0: sacct then answers
#                           "Slurm accounting storage is disabled" and only
#                           `sacct -c` (reads the jobcomp file) gives anything.
#   CST_SLURM_MEMORY=none   how memory requests are enforced, as sites run it:
#                           none (default): --mem is only scheduled against RealMemory, never enforced;
#                           cgroup: TaskPlugin=task/cgroup + ProctrackType=proctrack/cgroup,
#                             cgroup.conf ConstrainRAMSpace=yes (+ConstrainSwapSpace, AllowedSwapSpace=0),
#                             SelectTypeParameters=CR_CPU_Memory: the kernel's OOM killer stops a job
#                             at its --mem (sacct OUT_OF_MEMORY). Works here on the cgroup v1 memory
#                             controller mounted at /sys/fs/cgroup/memory (see docs/scheduler-truth.md);
#                           overmemorykill: no cgroups, JobAcctGatherParams=OverMemoryKill with
#                             JobAcctGatherFrequency=1 and CR_CPU_Memory: slurmstepd kills a step whose
#                             sampled RSS passes its --mem (sacct FAILED/OUT_OF_MEMORY, MaxRSS >= request).
#                           Both memory modes set DefMemPerCPU=512 so jobs without --mem still share the node.
#   Changing any knob on a running cluster rewrites slurm.conf and restarts
#   slurmctld + slurmd with their state kept (queued/running jobs survive).
set -euo pipefail

# The daemons started below must not inherit the caller's open files: under the documented
# `flock /tmp/cst-slurm.lock bash -c '... slurm-local-start.sh ...'`, munged/mariadbd/slurmdbd/
# slurmctld/slurmd would otherwise keep the lock's descriptor and hold the lock for as long as
# they live (seen 2026-12-03: every later flock waited forever).
for fd_path in /proc/$$/fd/*; do
  fd_num=${fd_path##*/}
  case $fd_num in 0|1|2|255) ;; *) eval "exec ${fd_num}>&-" 2>/dev/null || true ;; esac
done
unset fd_path fd_num

RUN=${CST_SLURM_RUN:-/run/cst-slurm}          # our PID files live here
SPOOL=${CST_SLURM_SPOOL:-/var/spool/cst-slurm}  # slurmctld + slurmd state
LOGDIR=${CST_SLURM_LOGDIR:-/var/log/cst-slurm}
CONF=/etc/slurm/slurm.conf                       # default path: clients need no SLURM_CONF
TIMEOUT=${CST_SLURM_TIMEOUT:-60}
PBS=${CST_SLURM_PBS:-1}
ACCT=${CST_SLURM_ACCOUNTING:-0}
MEMORY=${CST_SLURM_MEMORY:-none}
case "$MEMORY" in none|cgroup|overmemorykill) ;; *) echo "slurm-local: ERROR: CST_SLURM_MEMORY must be none, cgroup or overmemorykill, got '$MEMORY'" >&2; exit 1 ;; esac
MARK="# managed-by: start-local-slurm.sh"

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: ERROR: $*" >&2; exit 1; }

T_START=$(date +%s.%N)
deadline=$(( $(date +%s) + TIMEOUT ))

[ "$(id -u)" = 0 ] || die "must run as root"

# ---------------------------------------------------------------- packages
need_pkgs=()
command -v slurmctld >/dev/null 2>&1 || need_pkgs+=(slurmctld)
command -v slurmd    >/dev/null 2>&1 || need_pkgs+=(slurmd)
command -v sbatch    >/dev/null 2>&1 || need_pkgs+=(slurm-client)
command -v munged    >/dev/null 2>&1 || need_pkgs+=(munge)
if [ "$PBS" = 1 ] && ! command -v qsub >/dev/null 2>&1; then need_pkgs+=(slurm-wlm-torque); fi
if [ "$ACCT" = 1 ]; then
  command -v slurmdbd >/dev/null 2>&1 || need_pkgs+=(slurmdbd)
  command -v mariadbd >/dev/null 2>&1 || need_pkgs+=(mariadb-server)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ "${CST_SLURM_NO_INSTALL:-0}" = 1 ] && die "missing packages: ${need_pkgs[*]} (CST_SLURM_NO_INSTALL=1)"
  say "installing ${need_pkgs[*]} (apt-get)"
  # Keep the packages' init scripts from starting daemons on a machine that
  # has no policy-rc.d (we start them ourselves, with our own config).
  tmp_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; tmp_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/tmp/cst-slurm-apt.log 2>&1; then
    apt-get update -q >>/tmp/cst-slurm-apt.log 2>&1 || true
    apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >>/tmp/cst-slurm-apt.log 2>&1 \
      || { [ $tmp_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; die "apt-get install failed, see /tmp/cst-slurm-apt.log"; }
  fi
  [ $tmp_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  # package download/installation is not counted in the start-up time budget
  deadline=$(( $(date +%s) + TIMEOUT ))
fi

mkdir -p "$RUN" "$SPOOL/ctld" "$SPOOL/d" "$LOGDIR" /etc/slurm/plugstack.conf.d

running() {  # running PID COMM -> 0 if PID is a live (not zombie) COMM process
  local pid=$1 comm=$2 st
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$comm" ] || return 1
  # PID 1 on these machines reaps orphans late: a killed daemon stays a zombie ~1 s
  st=$(sed 's/^.*) //' /proc/$pid/stat 2>/dev/null | cut -d' ' -f1)
  [ -n "$st" ] && [ "$st" != Z ]
}
alive() {  # alive PIDFILE COMM  -> 0 if the pid in PIDFILE is running COMM
  local pf=$1 comm=$2 pid
  [ -s "$pf" ] || return 1
  pid=$(cat "$pf" 2>/dev/null) || return 1
  running "$pid" "$comm"
}

# ---------------------------------------------------------------- munge
if [ ! -s /etc/munge/munge.key ]; then
  say "creating /etc/munge/munge.key"
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 status=none
fi
chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge

if alive "$RUN/munged.pid" munged; then
  say "munged already running (pid $(cat "$RUN/munged.pid"))"
elif [ -S /run/munge/munge.socket.2 ] && munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  # a munged we did not start (e.g. the package's init script): use it, never stop it
  say "using an already running munged that this script did not start"
else
  rm -f /run/munge/munged.pid
  # munged must run as the key's owner (as root it refuses: "Keyfile is insecure")
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 1 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  [ -s /run/munge/munged.pid ] || die "munged did not start; see /var/log/munge/munged.log"
  cp /run/munge/munged.pid "$RUN/munged.pid"
  say "started munged (pid $(cat "$RUN/munged.pid"))"
fi
munge -n | unmunge >/dev/null || die "munge round trip failed; see /var/log/munge/munged.log"

# ---------------------------------------------------------------- config
# Real hardware from slurmd -C unless CST_SLURM_CPUS overrides the CPU count.
hw=$(slurmd -C | head -1)
real_cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
real_mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
CPUS=${CST_SLURM_CPUS:-8}
[ "$CPUS" = real ] && CPUS=$real_cpus
[[ "$CPUS" =~ ^[1-9][0-9]*$ ]] || die "CST_SLURM_CPUS must be a positive integer or 'real', got '$CPUS'"
MEM=$real_mem

new_conf=$(cat <<EOF
$MARK
ClusterName=cstlocal
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
$(case "$MEMORY" in
  cgroup) printf '# memory enforced by cgroups (CST_SLURM_MEMORY=cgroup; cgroup.conf next to this file)\nProctrackType=proctrack/cgroup\nTaskPlugin=task/cgroup' ;;
  overmemorykill) printf '# memory enforced by sampling (CST_SLURM_MEMORY=overmemorykill), no cgroups\nProctrackType=proctrack/linuxproc\nTaskPlugin=task/none' ;;
  *) printf '# no cgroups/systemd needed:\nProctrackType=proctrack/linuxproc\nTaskPlugin=task/none' ;;
esac)
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/linux
$(if [ "$MEMORY" = overmemorykill ]; then printf 'JobAcctGatherParams=OverMemoryKill\nJobAcctGatherFrequency=1'; else printf 'JobAcctGatherFrequency=5'; fi)
$(if [ "$ACCT" = 1 ]; then
  printf 'AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost\nAccountingStoragePort=6819'
else
  printf 'AccountingStorageType=accounting_storage/none'
fi)
# finished jobs are appended here; sacct -c reads it (no slurmdbd needed)
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGDIR/jobcomp.log
SchedulerType=sched/backfill
# default batch_sched_delay=3 makes each submission wait ~3 s; 0 gives ~1 s
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
$(if [ "$MEMORY" = none ]; then printf 'SelectTypeParameters=CR_CPU'; else printf 'SelectTypeParameters=CR_CPU_Memory\nDefMemPerCPU=512'; fi)
# trust the node line below, even if it claims more CPUs than the box has
SlurmdParameters=config_overrides
ReturnToService=2
MaxArraySize=10001
MaxJobCount=100000
KillWait=5
# keep finished jobs visible to squeue/scontrol for 10 minutes
MinJobAge=600
InactiveLimit=0
Waittime=0
MessageTimeout=10
SlurmdTimeout=300
MailProg=/bin/true
SlurmctldPort=6817
SlurmdPort=6818
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS Sockets=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
)
if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
  mv "$CONF" "$CONF.orig.$(date +%s)"; say "moved a foreign $CONF aside"
fi
conf_changed=0
if [ ! -e "$CONF" ] || [ "$(cat "$CONF")" != "$new_conf" ]; then
  printf '%s\n' "$new_conf" > "$CONF"; conf_changed=1
fi
if [ "$MEMORY" = cgroup ]; then
  new_cg=$(printf '%s\n' "$MARK" "CgroupPlugin=cgroup/v1" "CgroupMountpoint=/sys/fs/cgroup" "ConstrainRAMSpace=yes" "ConstrainSwapSpace=yes" "AllowedSwapSpace=0")
  if [ ! -e /etc/slurm/cgroup.conf ] || [ "$(cat /etc/slurm/cgroup.conf)" != "$new_cg" ]; then
    printf '%s\n' "$new_cg" > /etc/slurm/cgroup.conf; conf_changed=1
  fi
elif [ -e /etc/slurm/cgroup.conf ] && grep -qF "$MARK" /etc/slurm/cgroup.conf; then
  rm -f /etc/slurm/cgroup.conf
fi
if [ "$PBS" = 1 ]; then
  echo "required /usr/lib/x86_64-linux-gnu/slurm-wlm/spank_pbs.so" > /etc/slurm/plugstack.conf.d/cst-pbs.conf
else
  rm -f /etc/slurm/plugstack.conf.d/cst-pbs.conf
fi

# ---------------------------------------------------------------- accounting (opt-in)
if [ "$ACCT" = 1 ]; then
  if alive "$RUN/mariadbd.pid" mariadbd; then
    say "mariadbd already running (pid $(cat "$RUN/mariadbd.pid"))"
  else
    mkdir -p /run/mysqld; chown mysql:mysql /run/mysqld
    rm -f /run/mysqld/mysqld.pid
    # no systemd: run the server binary directly, local socket only
    nohup /usr/sbin/mariadbd --user=mysql --datadir=/var/lib/mysql --socket=/run/mysqld/mysqld.sock \
      --pid-file=/run/mysqld/mysqld.pid --skip-networking >"$LOGDIR/mariadbd.out" 2>&1 &
    for _ in $(seq 1 150); do [ -s /run/mysqld/mysqld.pid ] && mariadb -e 'select 1' >/dev/null 2>&1 && break; sleep 0.1; done
    mariadb -e 'select 1' >/dev/null 2>&1 || die "mariadbd did not start; see $LOGDIR/mariadbd.out"
    cp /run/mysqld/mysqld.pid "$RUN/mariadbd.pid"
    say "started mariadbd (pid $(cat "$RUN/mariadbd.pid"))"
  fi
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'cst-local-only';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  printf '%s\n' "$MARK" "AuthType=auth/munge" "DbdHost=localhost" "DbdPort=6819" "SlurmUser=root" \
    "DebugLevel=info" "LogFile=$LOGDIR/slurmdbd.log" "PidFile=$RUN/slurmdbd.pid" \
    "StorageType=accounting_storage/mysql" "StorageHost=localhost" "StorageLoc=slurm_acct_db" \
    "StorageUser=slurm" "StoragePass=cst-local-only" > /etc/slurm/slurmdbd.conf
  chmod 600 /etc/slurm/slurmdbd.conf   # slurmdbd refuses a slurmdbd.conf others can read
  if alive "$RUN/slurmdbd.pid" slurmdbd; then
    say "slurmdbd already running (pid $(cat "$RUN/slurmdbd.pid"))"
  else
    rm -f "$RUN/slurmdbd.pid"
    slurmdbd   # daemonizes
    for _ in $(seq 1 100); do alive "$RUN/slurmdbd.pid" slurmdbd && sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.1; done
    alive "$RUN/slurmdbd.pid" slurmdbd || die "slurmdbd did not start; tail of $LOGDIR/slurmdbd.log:
$(tail -20 "$LOGDIR/slurmdbd.log" 2>/dev/null)"
    say "started slurmdbd (pid $(cat "$RUN/slurmdbd.pid"))"
  fi
fi

# ---------------------------------------------------------------- daemons
stop_pid() {  # stop_pid PIDFILE COMM : SIGTERM and wait up to 10 s
  local pid; pid=$(cat "$1" 2>/dev/null) || return 0
  running "$pid" "$2" || return 0
  kill -TERM "$pid"
  for _ in $(seq 1 100); do running "$pid" "$2" || break; sleep 0.1; done
  rm -f "$1"
}
if [ $conf_changed = 1 ] && { alive "$RUN/slurmctld.pid" slurmctld || alive "$RUN/slurmd.pid" slurmd; }; then
  # Node/accounting changes need a daemon restart (scontrol reconfigure says
  # "require restart of the slurmctld daemon"). Queued/running jobs are kept.
  say "slurm.conf changed: restarting slurmctld and slurmd (jobs kept)"
  stop_pid "$RUN/slurmd.pid" slurmd
  stop_pid "$RUN/slurmctld.pid" slurmctld
  keep_state=1
fi

if alive "$RUN/slurmctld.pid" slurmctld; then
  say "slurmctld already running (pid $(cat "$RUN/slurmctld.pid"))"
else
  rm -f "$RUN/slurmctld.pid"
  # -c: start with an empty queue (default for a fresh start); -i: ignore unreadable state files
  if [ "${CST_SLURM_KEEP_STATE:-${keep_state:-0}}" = 1 ]; then slurmctld -i; else slurmctld -c -i; fi   # daemonizes
  for _ in $(seq 1 50); do alive "$RUN/slurmctld.pid" slurmctld && break; sleep 0.1; done
  alive "$RUN/slurmctld.pid" slurmctld || die "slurmctld did not start; tail of $LOGDIR/slurmctld.log:
$(tail -20 "$LOGDIR/slurmctld.log" 2>/dev/null)"
  say "started slurmctld (pid $(cat "$RUN/slurmctld.pid"))"
fi

if alive "$RUN/slurmd.pid" slurmd; then
  say "slurmd already running (pid $(cat "$RUN/slurmd.pid"))"
else
  rm -f "$RUN/slurmd.pid"
  slurmd -N localhost   # daemonizes; -N: node name independent of the machine's hostname
  for _ in $(seq 1 50); do alive "$RUN/slurmd.pid" slurmd && break; sleep 0.1; done
  alive "$RUN/slurmd.pid" slurmd || die "slurmd did not start; tail of $LOGDIR/slurmd.log:
$(tail -20 "$LOGDIR/slurmd.log" 2>/dev/null)"
  say "started slurmd (pid $(cat "$RUN/slurmd.pid"))"
fi

# ---------------------------------------------------------------- wait for idle
state=""
while :; do
  state=$(sinfo -h -n localhost -o %T 2>/dev/null | head -1 || true)
  case "$state" in
    idle|mixed|allocated|completing) break ;;
    drained|draining|down|*drain*)   scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "slurm-local: ERROR: node not usable after ${TIMEOUT}s (state: '${state:-no answer}')" >&2
    scontrol show node localhost 2>&1 | grep -E 'State|Reason' >&2 || true
    echo "--- $LOGDIR/slurmctld.log (tail)" >&2; tail -15 "$LOGDIR/slurmctld.log" >&2 2>/dev/null || true
    echo "--- $LOGDIR/slurmd.log (tail)" >&2;    tail -15 "$LOGDIR/slurmd.log" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.2
done
secs=$(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
say "node localhost is $state (CPUs=$CPUS, memory enforcement $MEMORY, cluster cstlocal) after ${secs}s"

#!/usr/bin/env bash
# scripts/sge-local-start.sh — bring up a single-node Son of Grid Engine 8.1.9 (Debian bookworm's
# gridengine-* packages) on localhost for cst-batch's real Grid Engine tests (test/sge/).
# Notes and pitfalls: /work/shared/notes/sge-local.md (copy in docs/clusters.md, "Grid Engine").
#
# Runs beside the test Slurm without touching it: Slurm's slurm-wlm-torque owns /usr/bin/qsub,
# qstat and qdel, and gridengine-client would overwrite them (dpkg file conflict). So the packages
# are NOT installed: they are unpacked (dpkg-deb -x) under $CST_SGE_PREFIX (default /opt/cst-sge),
# with /usr/lib/gridengine and /usr/share/gridengine symlinked there (paths compiled into the
# binaries). Client commands are wrappers in $CST_SGE_PREFIX/bin that set SGE_ROOT/SGE_CELL and the
# ports; put that folder first on PATH to use Grid Engine (the tests do), leave it off for Slurm.
#
# Idempotent: daemons already running (PID files under $CST_SGE_RUN) are left alone.
# As root, no systemd, non-interactive. Ports 6444 (qmaster) / 6445 (execd): Slurm uses 6817/6818.
# Prints "sge-local: ready ..." when a queue instance is usable; exit 1 with the log tail if not.
#
# Knobs: CST_SGE_SLOTS=8 (slots of all.q), CST_SGE_TIMEOUT=60 (seconds to wait),
#        CST_SGE_NO_INSTALL=1 (never call apt-get).
set -euo pipefail

# Daemons must not inherit the caller's descriptors (a flock held by the caller would live on).
for fd_path in /proc/$$/fd/*; do
  fd_num=${fd_path##*/}
  case $fd_num in 0|1|2|255) ;; *) eval "exec ${fd_num}>&-" 2>/dev/null || true ;; esac
done
unset fd_path fd_num

PREFIX=${CST_SGE_PREFIX:-/opt/cst-sge}
RUN=${CST_SGE_RUN:-/run/cst-sge}
SPOOL=${CST_SGE_SPOOL:-/var/spool/cst-sge}
SLOTS=${CST_SGE_SLOTS:-8}
TIMEOUT=${CST_SGE_TIMEOUT:-60}
QPORT=6444
EPORT=6445
ROOT=$PREFIX/root
CELL=default
BIN=/usr/lib/gridengine

say() { echo "sge-local: $*"; }
die() { echo "sge-local: ERROR: $*" >&2; [ -f "$SPOOL/qmaster/messages" ] && tail -n 15 "$SPOOL/qmaster/messages" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

export SGE_ROOT=$ROOT SGE_CELL=$CELL SGE_QMASTER_PORT=$QPORT SGE_EXECD_PORT=$EPORT

# ---------------------------------------------------------------- packages (unpacked, not installed)
if [ ! -x "$PREFIX/pkg/usr/lib/gridengine/sge_qmaster" ]; then
  [ "${CST_SGE_NO_INSTALL:-0}" = 1 ] && die "Grid Engine is not unpacked under $PREFIX and CST_SGE_NO_INSTALL=1"
  mkdir -p "$PREFIX/debs" "$PREFIX/pkg"
  ( cd "$PREFIX/debs" && { apt-get download gridengine-master gridengine-exec gridengine-client gridengine-common >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1; apt-get download gridengine-master gridengine-exec gridengine-client gridengine-common >/dev/null; }; } ) \
    || die "apt-get download gridengine-* failed"
  for d in "$PREFIX"/debs/gridengine-*.deb; do dpkg-deb -x "$d" "$PREFIX/pkg"; done
fi
# libraries the binaries need (libjemalloc2 is the one a Slurm machine lacks); plain libraries, no conflict
if ! ldconfig -p | grep -q libjemalloc.so.2; then
  [ "${CST_SGE_NO_INSTALL:-0}" = 1 ] && die "libjemalloc2 missing and CST_SGE_NO_INSTALL=1"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libjemalloc2 libdb5.3 libhwloc15 libtirpc3 libmunge2 >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libjemalloc2 libdb5.3 libhwloc15 libtirpc3 libmunge2 >/dev/null; }
fi
for link in /usr/lib/gridengine:$PREFIX/pkg/usr/lib/gridengine /usr/share/gridengine:$PREFIX/pkg/usr/share/gridengine; do
  at=${link%%:*}; to=${link#*:}
  if [ -e "$at" ] && [ ! -L "$at" ]; then die "$at exists and is not our symlink (a gridengine package installed?): remove it or use it"; fi
  ln -sfn "$to" "$at"
done

# ---------------------------------------------------------------- SGE_ROOT layout + client wrappers
mkdir -p "$ROOT/bin" "$ROOT/utilbin" "$ROOT/lib" "$ROOT/$CELL/common" "$PREFIX/bin" "$RUN"
for a in bin utilbin lib; do ln -sfn "$BIN" "$ROOT/$a/lx-amd64"; done
ln -sfn /usr/share/gridengine/util "$ROOT/util"
for c in qsub qstat qacct qdel qconf qhost qmod qalter qhold qrls; do
  cat > "$PREFIX/bin/$c" <<EOF
#!/bin/sh
# Grid Engine client for cst-batch's test cluster (scripts/sge-local-start.sh)
SGE_ROOT=$ROOT SGE_CELL=$CELL SGE_QMASTER_PORT=$QPORT SGE_EXECD_PORT=$EPORT
export SGE_ROOT SGE_CELL SGE_QMASTER_PORT SGE_EXECD_PORT
exec $BIN/$c "\$@"
EOF
  chmod 755 "$PREFIX/bin/$c"
done
cat > "$PREFIX/env.sh" <<EOF
export SGE_ROOT=$ROOT SGE_CELL=$CELL SGE_QMASTER_PORT=$QPORT SGE_EXECD_PORT=$EPORT
export PATH=$PREFIX/bin:\$PATH
EOF

# ---------------------------------------------------------------- cell: bootstrap + spool (first time)
COMMON=$ROOT/$CELL/common
# The host name must be the one qmaster sees for 127.0.0.1 ("localhost"): commlib refuses a
# client whose resolved name differs from its own ("access denied ... not identical").
echo localhost > "$COMMON/act_qmaster"
h=$(hostname)
if [ "$h" = localhost ]; then echo localhost > "$COMMON/host_aliases"; else echo "localhost $h" > "$COMMON/host_aliases"; fi
if [ ! -d "$SPOOL/spooldb/sge" ] && [ ! -f "$SPOOL/spooldb/sge" ]; then
  mkdir -p "$SPOOL/qmaster/job_scripts" "$SPOOL/spooldb" "$SPOOL/execd"
  cat > "$COMMON/bootstrap" <<EOF
# Version: 8.1.9
admin_user              none
default_domain          none
ignore_fqdn             true
spooling_method         berkeleydb
spooling_lib            libspoolb
spooling_params         $SPOOL/spooldb
binary_path             $BIN
qmaster_spool_dir       $SPOOL/qmaster
security_mode           none
listener_threads        2
worker_threads          2
scheduler_threads       1
job_spooling            true
EOF
  # the Debian default configuration, with root allowed to submit (min_uid 0) and accounting flushed at once
  sed -e "s#/var/spool/gridengine/execd#$SPOOL/execd#" \
      -e 's/^min_uid .*/min_uid                0/' -e 's/^min_gid .*/min_gid                0/' \
      -e 's/^load_report_time .*/load_report_time       00:00:05/' \
      -e 's/^reporting_params .*/reporting_params       accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00 accounting_flush_time=00:00:00/' \
      /usr/share/gridengine/default-configuration > "$PREFIX/configuration"
  ( cd /tmp
    $BIN/spoolinit berkeleydb libspoolb "$SPOOL/spooldb" init >/dev/null
    $BIN/spooldefaults configuration "$PREFIX/configuration"
    $BIN/spooldefaults complexes "$ROOT/util/resources/centry"
    $BIN/spooldefaults usersets "$ROOT/util/resources/usersets"
    $BIN/spooldefaults managers root ) || die "initialising the spool failed"
  FRESH=1
else
  FRESH=0
fi

# ---------------------------------------------------------------- daemons
alive() { local f=$RUN/$1.pid; [ -f "$f" ] && [ "$(cat /proc/"$(cat "$f")"/comm 2>/dev/null)" = "$1" ] && [ "$(awk '{print $3}' /proc/"$(cat "$f")"/stat 2>/dev/null)" != Z ]; }
start_daemon() {
  local name=$1
  alive "$name" && return 0
  ( cd /tmp && "$BIN/$name" ) || die "$name did not start"
  # the daemons fork; find the child by its comm under our binary path
  for _ in $(seq 1 50); do
    local pid="" p
    # the newest live one (a daemon's exited parent may linger as a zombie: PID 1 here does not reap)
    for p in $(pgrep -x "$name" || true); do [ "$(awk '{print $3}' /proc/"$p"/stat 2>/dev/null)" = Z ] || pid=$p; done
    if [ -n "$pid" ]; then echo "$pid" > "$RUN/$name.pid"; return 0; fi
    sleep 0.1
  done
  die "$name is not running"
}
start_daemon sge_qmaster
for _ in $(seq 1 100); do $BIN/qconf -sh >/dev/null 2>&1 && break; sleep 0.2; done
$BIN/qconf -sh >/dev/null 2>&1 || die "qmaster does not answer on port $QPORT"
$BIN/qconf -sh 2>/dev/null | grep -qx localhost || $BIN/qconf -ah localhost >/dev/null 2>&1 || true
$BIN/qconf -ss 2>/dev/null | grep -qx localhost || $BIN/qconf -as localhost >/dev/null
start_daemon sge_execd

# scheduler: run every second (default 15 s) so tests do not wait
if $BIN/qconf -ssconf | grep -q '^schedule_interval *0:0:15'; then
  printf '#!/bin/sh\nsed -i -e "s/^schedule_interval .*/schedule_interval 0:0:1/" -e "s/^flush_submit_sec .*/flush_submit_sec 1/" -e "s/^flush_finish_sec .*/flush_finish_sec 1/" "$1"\n' > "$PREFIX/ed-sconf.sh"
  chmod +x "$PREFIX/ed-sconf.sh"; EDITOR=$PREFIX/ed-sconf.sh $BIN/qconf -msconf >/dev/null
fi
# parallel environment smp (for --cpus > 1 with profile "sge_pe": "smp")
if ! $BIN/qconf -spl 2>/dev/null | grep -qx smp; then
  printf 'pe_name smp\nslots 999\nuser_lists NONE\nxuser_lists NONE\nstart_proc_args NONE\nstop_proc_args NONE\nallocation_rule $pe_slots\ncontrol_slaves FALSE\njob_is_first_task TRUE\nurgency_slots min\naccounting_summary FALSE\nqsort_args NONE\n' > "$PREFIX/pe-smp"
  $BIN/qconf -Ap "$PREFIX/pe-smp" >/dev/null
fi
# queue all.q: SLOTS slots, bash, pe smp, no load threshold (2 cores would block 8 slots), notify 2 s
if ! $BIN/qconf -sql 2>/dev/null | grep -qx all.q; then
  printf '#!/bin/sh\nsed -i -e "s/^hostlist .*/hostlist localhost/" -e "s/^slots .*/slots %s/" -e "s#^shell .*#shell /bin/bash#" -e "s/^pe_list .*/pe_list smp/" -e "s/^load_thresholds .*/load_thresholds NONE/" -e "s/^notify .*/notify 00:00:02/" "$1"\n' "$SLOTS" > "$PREFIX/ed-queue.sh"
  chmod +x "$PREFIX/ed-queue.sh"; EDITOR=$PREFIX/ed-queue.sh $BIN/qconf -aq all.q >/dev/null
fi

deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
  line=$($BIN/qstat -f -q all.q 2>/dev/null | grep '^all.q@' || true)
  # usable: a load value (execd reported) and no state column (a/u/E/d/s would be a 6th field)
  if [ -n "$line" ] && [ "$(echo "$line" | awk '{print NF}')" -le 5 ] && ! echo "$line" | grep -q -- '-NA-'; then break; fi
  [ "$(date +%s)" -ge "$deadline" ] && die "queue all.q@localhost not usable within ${TIMEOUT}s: $line"
  sleep 0.5
done
say "ready: all.q@localhost $SLOTS slots (fresh=$FRESH); clients: PATH=$PREFIX/bin:\$PATH (or . $PREFIX/env.sh)"

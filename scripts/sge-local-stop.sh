#!/usr/bin/env bash
# scripts/sge-local-stop.sh — stop the single-node Grid Engine of scripts/sge-local-start.sh:
# deletes the cluster's jobs, then stops only the daemons whose PID files the start script wrote
# (checks /proc/PID/comm; never kills by name). The unpacked packages and the spool stay (a
# later start is ~2 s). CST_SGE_PURGE=1 also removes the spool (a fresh cluster, job ids from 1).
set -uo pipefail
PREFIX=${CST_SGE_PREFIX:-/opt/cst-sge}
RUN=${CST_SGE_RUN:-/run/cst-sge}
SPOOL=${CST_SGE_SPOOL:-/var/spool/cst-sge}
export SGE_ROOT=$PREFIX/root SGE_CELL=default SGE_QMASTER_PORT=6444 SGE_EXECD_PORT=6445
BIN=/usr/lib/gridengine
if [ -x "$BIN/qdel" ]; then "$BIN/qdel" -f -u '*' >/dev/null 2>&1 || true; fi
stop() {
  local name=$1 f=$RUN/$1.pid pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ]; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$f"
}
stop sge_execd
stop sge_qmaster
if [ "${CST_SGE_PURGE:-0}" = 1 ]; then rm -rf "$SPOOL"; fi
echo "sge-local: stopped"

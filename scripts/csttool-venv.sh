#!/usr/bin/env bash
# Create build/csttool-venv with the real csttool (from PyPI) and the phantom generator's
# dependencies, and install Debian's dcm2niix. Idempotent: a second run only checks.
#   CSTTOOL_SPEC   pip requirement for csttool (default csttool==0.5.0; "csttool" = newest)
#   CSTTOOL_VENV   venv folder (default <repo>/build/csttool-venv)
#   PYTHON         interpreter that creates the venv (default python3)
#   CSTTOOL_FETCH_ATLAS=1  also run `csttool fetch-data --accept-fsl-license`: downloads the
#                  FSL-licensed atlases (non-commercial licence; needs the network). Without
#                  them every `csttool run` fails at its extract step (and still exits 0).
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${CSTTOOL_SPEC:-csttool==0.5.0}
venv=${CSTTOOL_VENV:-$PWD/build/csttool-venv}
python=${PYTHON:-python3}
started=$(date +%s)

say() { printf '[csttool-venv] %s\n' "$*"; }

if ! command -v dcm2niix >/dev/null 2>&1; then
  say "installing dcm2niix (apt)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q dcm2niix >/dev/null
  else
    say "not root: install dcm2niix yourself (apt-get install dcm2niix); DICOM input will fail"
  fi
else
  say "dcm2niix present: $(command -v dcm2niix)"
fi

if [ ! -x "$venv/bin/python" ]; then
  say "creating venv $venv with $($python --version 2>&1)"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
else
  say "venv exists: $venv"
fi

want_ok() {
  # true when the installed csttool satisfies $spec
  "$venv/bin/python" - "$spec" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
from packaging.requirements import Requirement
req = Requirement(sys.argv[1])
# an unpinned spec ("csttool") never counts as satisfied: it asks for the newest
sys.exit(0 if str(req.specifier) and req.specifier.contains(version(req.name), prereleases=True) else 1)
PY
}

if want_ok; then
  say "csttool already satisfies $spec"
else
  upgrade=()
  case "$spec" in *[=\<\>~!]*) ;; *) upgrade=(--upgrade) ;; esac  # unpinned: the newest
  say "pip install ${upgrade[*]} $spec pydicom numpy nibabel"
  "$venv/bin/python" -m pip install -q "${upgrade[@]}" "$spec" pydicom numpy nibabel
fi

atlas_ok() {
  "$venv/bin/python" -c 'import sys; from csttool.data import is_data_installed; sys.exit(0 if is_data_installed() else 1)' 2>/dev/null
}
if atlas_ok; then
  say "csttool atlas data: installed"
elif [ "${CSTTOOL_FETCH_ATLAS:-0}" = 1 ]; then
  say "fetching csttool atlas data (FSL licence accepted by CSTTOOL_FETCH_ATLAS=1)"
  "$venv/bin/csttool" fetch-data --accept-fsl-license || say "fetch-data failed: csttool run will fail at extract"
else
  say "csttool atlas data: NOT installed (CSTTOOL_FETCH_ATLAS=1 fetches it); csttool run fails at extract"
fi

say "csttool --version: $("$venv/bin/csttool" --version 2>&1 | tr '\n' ' ')"
say "dcm2niix: $({ dcm2niix --version 2>&1 || true; } | tail -1)"
say "venv size: $(du -sh "$venv" | cut -f1)"
say "done in $(( $(date +%s) - started ))s"

#!/usr/bin/env bash
# Create (or reuse) the project's Python 3.10 environment at <repo>/.venv.
#
#   scripts/bootstrap.sh          # idempotent; ~0.1 s when the environment is up to date
#
# Interpreter, first found: $SNNCOMPILE_PYTHON, $(pyenv root)/versions/3.10.13/bin/python,
# python3.10 on PATH.  It must be CPython 3.10 (Lava 0.10 runs only on 3.10).
#
# The environment is reused when the stamp file inside it records the sha256 of the install inputs
# (requirements/lock.txt, requirements/nodeps.txt, setup.cfg, setup.py, pyproject.toml) and they
# still match; otherwise it installs requirements/lock.txt, then requirements/nodeps.txt with
# --no-deps, then the project itself (editable, --no-deps).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.snncompile-bootstrap.sha256"
INPUTS=(requirements/lock.txt requirements/nodeps.txt setup.cfg setup.py pyproject.toml)
T0=$EPOCHREALTIME

say() { echo "bootstrap: $*" >&2; }
die() { echo "bootstrap: error: $*" >&2; exit 1; }
elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { s = b - a; if (s < 60) printf "%.1f s", s; else printf "%dm%02ds", s / 60, s % 60 }'; }

cd "$ROOT"
for f in "${INPUTS[@]}"; do [[ -f $f ]] || die "missing $ROOT/$f"; done
want_hash="$(cat "${INPUTS[@]}" | sha256sum | cut -d' ' -f1)"

# Print "3.10" (major.minor) for an interpreter, or nothing if it does not run.
py_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true; }

choose_python() {
    local cand
    if [[ -n ${SNNCOMPILE_PYTHON:-} ]]; then
        cand="$SNNCOMPILE_PYTHON"
        [[ -x $cand ]] || cand="$(command -v "$cand" 2>/dev/null || true)"
        [[ -n $cand && -x $cand ]] || die "SNNCOMPILE_PYTHON=$SNNCOMPILE_PYTHON is not an executable interpreter"
        [[ $(py_version "$cand") == 3.10 ]] ||
            die "SNNCOMPILE_PYTHON=$SNNCOMPILE_PYTHON is Python $(py_version "$cand"), not 3.10 (Lava 0.10 runs only on Python 3.10)"
        echo "$cand"; return
    fi
    local pyenv_root=""
    if command -v pyenv >/dev/null 2>&1; then pyenv_root="$(pyenv root 2>/dev/null || true)"; fi
    for cand in ${pyenv_root:+"$pyenv_root/versions/3.10.13/bin/python"} "$(command -v python3.10 2>/dev/null || true)"; do
        [[ -n $cand && -x $cand ]] || continue
        if [[ $(py_version "$cand") == 3.10 ]]; then echo "$cand"; return; fi
        say "skipping $cand: it is Python $(py_version "$cand"), not 3.10"
    done
    die "no Python 3.10 interpreter found. Lava 0.10 runs only on Python 3.10: install one
  (e.g. 'pyenv install 3.10.13') or point SNNCOMPILE_PYTHON at a python3.10 executable."
}

# Serialise concurrent bootstraps (e.g. 'make -j demo test').  The lock lives beside .venv, not in it,
# because a broken .venv is recreated with --clear.
exec 9>"$ROOT/.venv.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

# Fast path: the environment exists, runs Python 3.10, and was built from the current inputs.
if [[ -x $VENV/bin/python && -f $STAMP && $(<"$STAMP") == "$want_hash" && $(py_version "$VENV/bin/python") == 3.10 ]]; then
    say "environment up to date ($VENV, $(elapsed))"
    exit 0
fi

if [[ -x $VENV/bin/python && $(py_version "$VENV/bin/python") == 3.10 ]]; then
    if [[ -f $STAMP ]]; then
        say "reusing $VENV: install inputs changed since it was built; updating"
    else
        say "reusing $VENV: no install stamp (new or interrupted install); updating"
    fi
else
    PY="$(choose_python)"
    if [[ -e $VENV/bin/python ]]; then
        say "$VENV exists but its interpreter is not a working Python 3.10: recreating it"
    fi
    say "creating $VENV with $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"
    "$PY" -m venv --clear "$VENV"
fi
rm -f "$STAMP"

# Machines may carry a global pip constraint file (e.g. /etc/xdg/pip/constraints.txt capping torch).
# The lock file is the only source of truth here, so neutralise it: an empty PIP_CONSTRAINT is ignored
# by pip, /dev/null replaces the configured file with an empty one.  --isolated would not help (it
# ignores user config and environment, not the global config).  Index/cert settings are kept.
export PIP_CONSTRAINT=/dev/null
export PIP_DISABLE_PIP_VERSION_CHECK=1
PIP=("$VENV/bin/python" -m pip)
# Run pip, dropping the one warning per package that this machine's unused file:// extra indexes cause.
pip_() {
    { "${PIP[@]}" "$@" 2>&1 1>&3 3>&- |
        { grep -v -E "^WARNING: Location '.*' is ignored: it is neither a file nor a directory\.$" >&2 || true; }
    } 3>&1
}

say "installing requirements/lock.txt (first time: a few minutes, ~7 GB: PyPI's torch is a CUDA build)"
pip_ install -q -r requirements/lock.txt
say "installing requirements/nodeps.txt with --no-deps"
pip_ install -q --no-deps -r requirements/nodeps.txt
say "installing snncompile (editable, --no-deps)"
pip_ install -q --no-deps --no-build-isolation -e .

# Consistency: only lava-dl's documented stale pins / build-only requirements may be reported.
unexpected="$("${PIP[@]}" check 2>&1 | grep -v -E '^lava-dl 0\.6\.0 (requires (ninja|unittest2)|has requirement (torch|torchvision|pytest|pillow)[<>=,.0-9]*, but you have)' | grep -v -E '^No broken requirements' || true)"
if [[ -n $unexpected ]]; then
    say "warning: 'pip check' reports more than lava-dl's known stale pins:"
    echo "$unexpected" >&2
fi

(cd / && "$VENV/bin/python" -c 'import snncompile') || die "the environment was installed but 'import snncompile' fails"
echo "$want_hash" >"$STAMP"
say "done in $(elapsed); $VENV is ready"

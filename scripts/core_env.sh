#!/usr/bin/env bash
# The core-only environment: what a newcomer gets from `pip install .` on a Python other than 3.10.
#
#   scripts/core_env.sh            # create or reuse <repo>/.venv-core, install the working tree, then run
#                                  # the tests marked `nolava` and a newcomer's session against that install
#   scripts/core_env.sh --setup    # only create or refresh the environment
#
# `make test` runs it after the full suite, so CI (which calls exactly `make test`) covers the core install.
#
# What is installed, and why it proves the declared dependencies:
#   * the project with `pip install <copy of the working tree>`: not editable, no lock, no extras, so only
#     setup.cfg's `install_requires` comes in.  The copy holds the files git tracks plus untracked,
#     not-ignored ones (a stale build/ folder of the checkout cannot leak into the wheel);
#   * under requirements/core-constraints.txt, which adds no package, it only picks the version of one the
#     core declares (torch: the CPU build this project's machines keep on disk for Python 3.11);
#   * pytest goes to a separate folder (.venv-core/test-tools, pinned to the lock's version) that is on
#     PYTHONPATH only while the tests run, so neither pytest nor its dependencies can stand in for an
#     undeclared dependency of the core during the newcomer's session.
#
# Interpreter, first found: $SNNCOMPILE_CORE_PYTHON, $(pyenv root)/versions/3.11.*/bin/python (newest),
# python3.11, python3.12 on PATH.  Python 3.10 is refused: the point is a Python Lava cannot run on.
#
# Reuse: a stamp in .venv-core records the sha256 of the install inputs (setup.cfg, setup.py,
# pyproject.toml, requirements/core-constraints.txt, the pytest pin, this script) and the interpreter
# version; when they match, only the project itself is reinstalled (--no-deps, a few seconds), otherwise
# the environment is recreated from nothing (--clear), so a dependency dropped from setup.cfg is really gone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-core"
TOOLS="$VENV/test-tools"
STAMP="$VENV/.snncompile-core.sha256"
CONSTRAINTS="$ROOT/requirements/core-constraints.txt"
T0=$EPOCHREALTIME
SETUP_ONLY=0
[[ ${1:-} == --setup ]] && SETUP_ONLY=1

say() { echo "core-env: $*" >&2; }
die() { echo "core-env: error: $*" >&2; exit 1; }
elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { s = b - a; if (s < 60) printf "%.1f s", s; else printf "%dm%02ds", s / 60, s % 60 }'; }

cd "$ROOT"
unset PYTHONPATH PYTHONHOME  # the core install alone must provide every import
PYTEST_PIN="$(grep -i -E '^pytest==' requirements/lock.txt)" || die "requirements/lock.txt pins no pytest"

py_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true; }

choose_python() {
    local cand pyenv_root="" cands=()
    if [[ -n ${SNNCOMPILE_CORE_PYTHON:-} ]]; then
        cand="$(command -v "$SNNCOMPILE_CORE_PYTHON" 2>/dev/null || true)"
        [[ -n $cand && -x $cand ]] || die "SNNCOMPILE_CORE_PYTHON=$SNNCOMPILE_CORE_PYTHON is not an executable interpreter"
        cands=("$cand")
    else
        if command -v pyenv >/dev/null 2>&1; then pyenv_root="$(pyenv root 2>/dev/null || true)"; fi
        if [[ -n $pyenv_root ]]; then
            while IFS= read -r cand; do cands+=("$cand"); done < <(ls -d "$pyenv_root"/versions/3.11.*/bin/python 2>/dev/null | sort -V -r)
        fi
        cands+=("$(command -v python3.11 2>/dev/null || true)" "$(command -v python3.12 2>/dev/null || true)")
    fi
    for cand in "${cands[@]}"; do
        [[ -n $cand && -x $cand ]] || continue
        if "$cand" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' 2>/dev/null; then echo "$cand"; return; fi
        local v; v="$(py_version "$cand")"
        say "skipping $cand: it is Python ${v:-?}; the core environment needs Python >= 3.11 (not Lava's 3.10)"
    done
    die "no Python >= 3.11 found (set SNNCOMPILE_CORE_PYTHON, or e.g. 'pyenv install 3.11.7')"
}

# A copy of the working tree as git sees it (tracked + untracked-but-not-ignored files that exist).
tree_copy() {
    local dest="$1"
    if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do [[ -f $f ]] && printf '%s\0' "$f"; done |
            tar --null -T - -cf - | tar -xf - -C "$dest"
    else
        tar --exclude=./.venv --exclude=./.venv-core --exclude=./build -cf - . | tar -xf - -C "$dest"
    fi
}

exec 9>"$ROOT/.venv-core.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

export PIP_CONSTRAINT="$CONSTRAINTS" PIP_DISABLE_PIP_VERSION_CHECK=1
pip_() {  # pip without the warning per package that this machine's unused file:// extra indexes cause
    { "$VENV/bin/python" -m pip "$@" 2>&1 1>&3 3>&- |
        { grep -v -E "^WARNING: Location '.*' is ignored: it is neither a file nor a directory\.$" >&2 || true; }
    } 3>&1
}

want_hash="$( { cat setup.cfg setup.py pyproject.toml "$CONSTRAINTS" "${BASH_SOURCE[0]}"; echo "$PYTEST_PIN"; } | sha256sum | cut -d' ' -f1)"
SRC="$(mktemp -d "${TMPDIR:-/tmp}/snncompile-core-src.XXXXXX")"
trap 'rm -rf "$SRC"' EXIT
tree_copy "$SRC"

if [[ -x $VENV/bin/python && -f $STAMP && $(<"$STAMP") == "$want_hash:$(py_version "$VENV/bin/python")" ]]; then
    say "reusing $VENV ($("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')); reinstalling the project only"
    pip_ install -q --no-deps --force-reinstall "$SRC"
else
    PY="$(choose_python)"
    say "creating $VENV with $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])')); pip install . under $(basename "$CONSTRAINTS")"
    rm -f "$STAMP"
    "$PY" -m venv --clear "$VENV"
    pip_ install -q "$SRC"
    pip_ install -q --target "$TOOLS" "$PYTEST_PIN"
    "$VENV/bin/python" -m pip check >/dev/null || { "$VENV/bin/python" -m pip check >&2; die "pip check fails in $VENV"; }
    echo "$want_hash:$(py_version "$VENV/bin/python")" >"$STAMP"
fi
say "environment ready in $(elapsed) ($(du -sh "$VENV" | cut -f1))"
[[ $SETUP_ONLY == 1 ]] && exit 0

# -- the tests marked nolava, against the installed copy ---------------------------------------------------
# Only the files that carry the marker are collected (the others may import test-only packages such as
# spikingjelly, which the core does not declare).  Run from outside the checkout, so that neither pytest's
# rootdir nor `python -m` can put the checkout's sources on sys.path; tests/conftest.py then checks that
# snncompile was imported from site-packages and that no selected test skipped.
mapfile -t NOLAVA < <(grep -rl --include='*.py' -E 'pytest\.mark\.nolava' tests | sort)
[[ ${#NOLAVA[@]} -gt 0 ]] || die "no test file carries the nolava marker"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/snncompile-core-run.XXXXXX")"
trap 'rm -rf "$SRC" "$WORK"' EXIT
say "pytest -m nolava over ${#NOLAVA[@]} files"
rc=0
(cd "$WORK" && SNNCOMPILE_TEST_ENV=core PYTHONPATH="$TOOLS" "$VENV/bin/python" -m pytest -c "$ROOT/setup.cfg" \
    --rootdir "$ROOT" -q -m nolava "${NOLAVA[@]/#/$ROOT/}") || rc=$?
if [[ $rc -eq 5 ]]; then say "pytest collected no nolava test (exit 5): a failure"; fi

# -- a newcomer's session: the README's commands on the shipped models, installed console script ----------
"$ROOT/scripts/newcomer.sh" "$VENV/bin/snncompile" "$WORK/newcomer" || rc=1
say "done in $(elapsed), exit $rc"
exit $rc

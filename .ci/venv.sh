#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install deepmact with its dev extras.
# torch==2.13.0 goes in first: a torch requirement on a machine without torch would pull CUDA builds.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
stamp="$VENV/.deepmact-installed"
if [ -f "$stamp" ] && [ "$stamp" -nt setup.py ] && [ "$stamp" -nt settings.ini ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3 || command -v python)}
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "deepmact needs Python 3.11 or newer"' || {
  echo "deepmact: Python 3.11+ is needed (found $("$PYTHON" --version 2>&1))" >&2; exit 2; }
if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating the virtual environment $VENV ..."
  "$PYTHON" -m venv "$VENV" 2>/dev/null || {
    # Debian's python without python3-venv: fall back to virtualenv from PyPI
    "$PYTHON" -m pip install --quiet --user virtualenv && "$PYTHON" -m virtualenv --quiet "$VENV"; }
fi
echo "Installing torch==2.13.0, then deepmact[dev], into $VENV (first time only; log in $VENV/install.log) ..."
pip_install() {
  "$VENV/bin/python" -m pip install --disable-pip-version-check "$@" >> "$VENV/install.log" 2>&1 || {
    tail -n 30 "$VENV/install.log" >&2; echo "deepmact: 'pip install $*' failed (full log: $VENV/install.log)" >&2; exit 1; }
}
pip_install --upgrade pip
pip_install torch==2.13.0
pip_install -e ".[dev]"
touch "$stamp"
echo "Environment ready: $VENV"

#!/usr/bin/env bash
# Print a sweep's summary: devops/summarize_sweep.sh NAME [--format table|json|csv] [--plots]
#   [--storage URL] [--study NAME] [--train-dir DIR]
# NAME is a sweep name (train_dir/sweep/NAME/sweep.db), a sweep directory or a .db file.
# Runs from any directory; NAME and --train-dir are read relative to where you are.
# PYTHON=/path/to/python picks the interpreter (default: the repo's .venv, else python3).
set -euo pipefail

# The interpreter and the package come from the repository holding this script, so it works
# from any directory; the cwd is left alone because NAME and train_dir are relative to it.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
    sed -n '2,6s/^# \{0,1\}//p' "$0"
    [[ $# -ge 1 ]] && exit 0 || exit 2
fi

# shellcheck source=devops/python.sh
source "$ROOT/devops/python.sh"
python="$(repo_python "$ROOT")"

# The repo first on the import path: a python3 without the editable install still finds it.
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m nested_sweeper.cli summary "$@"

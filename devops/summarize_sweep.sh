#!/usr/bin/env bash
# Print a sweep's summary: devops/summarize_sweep.sh NAME [--format table|json|csv] [--plots]
#   [--storage URL] [--study NAME] [--train-dir DIR]
# NAME is a sweep name (train_dir/sweep/NAME/sweep.db), a sweep directory or a .db file.
# Run from the repository root; PYTHON picks another interpreter (default .venv/bin/python).
set -euo pipefail

if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
    sed -n '2,5s/^# \{0,1\}//p' "$0"
    [[ $# -ge 1 ]] && exit 0 || exit 2
fi

exec "${PYTHON:-.venv/bin/python}" -m hydra_plugins.nested_sweeper._cli summary "$@"

#!/usr/bin/env bash
# Run a sweep through Hydra and the nested sweeper.
#
#   devops/sweep.sh run=NAME ++sweep_params=sweep/FILE +hardware=PROFILE [+user=NAME] [overrides]
#
# Every argument reaches `python train.py -m` exactly as given ("$@": no eval, no unquoted
# expansion), so values holding spaces, quotes, `;` or `$(...)` are data, never commands.
# The exit code is train.py's; afterwards the script prints where the results are.
# PYTHON=/path/to/python picks the interpreter (default: the repo's .venv, else python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat >&2 <<'EOF'
usage: devops/sweep.sh run=NAME ++sweep_params=sweep/FILE +hardware=PROFILE [+user=NAME] [overrides]
  run=NAME             required: the sweep's name (letters, digits, . _ -); results go to
                       train_dir/sweep/NAME and rerunning the same NAME resumes the sweep
  ++sweep_params=...   the sweep file, e.g. sweep/protein_working (conf/sweep/protein_working.yaml)
  +hardware=PROFILE    cpu | macbook | aws | pufferbox | cuda (conf/hardware/)
  +user=NAME           optional: conf/user/NAME.yaml (copy conf/user/example.yaml)
  overrides            any other Hydra overrides, e.g. trainer.total_timesteps=4096
example: devops/sweep.sh run=smoke ++sweep_params=sweep/protein_working +hardware=cpu
EOF
}

run_name=""
train_dir=""
user_name=""
for arg in "$@"; do
    case "$arg" in
        -h | --help) usage; exit 0 ;;
        run=*) run_name="${arg#run=}" ;;
        train_dir=* | ++train_dir=*) train_dir="${arg#*train_dir=}" ;;
        +user=* | user=*) user_name="${arg#*user=}" ;;
    esac
done

if [[ -z "$run_name" ]]; then
    echo "error: run=NAME is required" >&2
    usage
    exit 2
fi
if [[ ! "$run_name" =~ ^[A-Za-z0-9._-]+$ || "$run_name" == "." || "$run_name" == ".." ]]; then
    echo "error: run=$run_name: use letters, digits, '.', '_' and '-' only (it names a directory)" >&2
    exit 2
fi

# The output root: an explicit train_dir= wins, then the user file's, then the default.
if [[ -z "$train_dir" && -n "$user_name" && -f "$ROOT/conf/user/$user_name.yaml" ]]; then
    train_dir="$(sed -n 's/^train_dir:[[:space:]]*\([^#[:space:]]*\).*/\1/p' "$ROOT/conf/user/$user_name.yaml")"
fi
train_dir="${train_dir:-train_dir}"

# shellcheck source=devops/python.sh
source "$ROOT/devops/python.sh"
python="$(repo_python "$ROOT")"

status=0
"$python" "$ROOT/train.py" -m "$@" || status=$?
# Exit code 2 is bad input: its one error line is all there is to say.
[[ "$status" -eq 2 ]] && exit 2

echo
if [[ "$status" -eq 0 ]]; then
    echo "sweep '$run_name' finished"
else
    echo "sweep '$run_name' failed (exit code $status)" >&2
fi
echo "results: $train_dir/sweep/$run_name"
if [[ "$train_dir" == "train_dir" ]]; then
    echo "summary: nested-sweep summary $run_name"
else
    printf 'summary: nested-sweep summary %q --train-dir %q\n' "$run_name" "$train_dir"
fi
exit "$status"

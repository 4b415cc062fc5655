#!/usr/bin/env bash
# devops/foreign_app.sh PYTHON: a Hydra app that is not this project's, in a fresh directory,
# sweeps with hydra/sweeper=nested. Proves an install (`pip install -e .`, `pip install .`)
# makes the plugin discoverable from anywhere, not only beside this checkout.
set -euo pipefail
python="${1:?usage: devops/foreign_app.sh PYTHON}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cat >"$dir/app.py" <<'PY'
import hydra


@hydra.main(version_base=None, config_path=None, config_name=None)
def main(cfg):
    return {"value": -(cfg.x - 2) ** 2}


if __name__ == "__main__":
    main()
PY
cd "$dir"
out="$("$python" app.py -m hydra/sweeper=nested +x=1,2,3 hydra.sweep.dir=out 2>&1)" || {
    echo "$out" >&2
    echo "foreign app: the sweep failed" >&2
    exit 1
}
grep -q "^Best run: sweep.r.1 " <<<"$out" || { echo "$out" >&2; echo "foreign app: no best run x=2" >&2; exit 1; }
echo "foreign app in $dir: hydra/sweeper=nested found, 3 runs, best x=2"

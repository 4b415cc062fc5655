"""Train once (``python train.py [overrides]``) or sweep (``python train.py -m +sweep=NAME``).

The task function returns the metrics mapping of ``train.main.train`` (``reward``, ``cost``,
``runtime``, ``sps``, ...), from which the sweeper reads the sweep's metric.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from train.argv import prepare_argv

CONFIG_DIR = Path(__file__).resolve().parent / "conf"


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> dict[str, float]:
    # Imported here so `--help` and config errors answer without loading torch.
    from train.main import main as train_main

    return train_main(cfg)


def check_sweep_file() -> None:
    """One line, exit 2, for a sweep file Hydra would answer with a traceback (bad YAML)."""
    from nested_sweeper.engine.check import check_sweep_args
    from nested_sweeper.errors import SweepError

    try:
        check_sweep_args(CONFIG_DIR, sys.argv[1:])
    except SweepError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    prepare_argv(CONFIG_DIR)
    check_sweep_file()
    main()

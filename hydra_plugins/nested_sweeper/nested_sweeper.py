"""The sweeper Hydra discovers: thin, it forwards to ``nested_sweeper.engine.loop`` (imported lazily)."""

from __future__ import annotations

import sys
from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from .config import NestedSweeperConf  # noqa: F401  (registers hydra/sweeper=nested)


class NestedSweeper(Sweeper):
    def __init__(self, **conf: Any) -> None:
        from nested_sweeper.engine.loop import NestedSweeperImpl

        self._impl = NestedSweeperImpl(**conf)

    def setup(
        self,
        *,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        config: DictConfig,
    ) -> None:
        self._impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        from nested_sweeper.errors import SweepError

        # SystemExit passes through Hydra's error report (it catches Exception): one line and
        # exit code 2 for bad input (130 for Ctrl-C), as the nested-sweep CLI gives.
        try:
            where = self._impl.sweep(arguments)
            if where is not None:  # hydra.sweeper.summary: the rounds and the best run
                from nested_sweeper.summary import print_table

                print_table(*where)
            return None
        except SweepError as err:  # Hydra prints a traceback for anything else
            _exit(f"error: {err}", 2)
        except OSError as err:  # a full disk or a read-only directory outside the study
            path = f"{err.filename}: " if err.filename else ""
            _exit(f"error: {path}{err.strerror or err}; free space or make it writable, "
                  "then rerun the same command to resume", 2)
        except KeyboardInterrupt:  # Ctrl-C of the sweep (a run's own one only fails that run)
            _exit("stopped by Ctrl-C: finished runs are kept in the study; "
                  "rerun the same command to resume", 130)


def _exit(line: str, code: int) -> None:
    print(line, file=sys.stderr, flush=True)
    raise SystemExit(code)

"""The sweeper Hydra discovers: thin, it forwards to ``_impl`` (imported lazily)."""

from __future__ import annotations

from typing import Any

from hydra.errors import CompactHydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from .config import NestedSweeperConf  # noqa: F401  (registers hydra/sweeper=nested)


class SweepFailed(CompactHydraException):
    """A ``SweepError`` as Hydra reports it: the one line (file, key, fix), no traceback."""


class NestedSweeper(Sweeper):
    def __init__(self, **conf: Any) -> None:
        from ._impl import NestedSweeperImpl

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
        from ._errors import SweepError

        try:
            return self._impl.sweep(arguments)
        except SweepError as err:  # Hydra prints a traceback for anything else
            raise SweepFailed(f"error: {err}") from None

"""hydra-nested-sweeper: one nested sweep file becomes a complete hyperparameter search."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Searcher", "__version__", "report"]


def __getattr__(name: str) -> Any:
    # Hydra imports this package at every app start: keep numpy/torch/optuna out of that path.
    if name == "Searcher":
        from ._searcher import Searcher

        return Searcher
    if name == "report":
        from ._report import report

        return report
    raise AttributeError(name)

"""hydra-nested-sweeper: one nested sweep file becomes a complete hyperparameter search.

The library, by stage: ``space`` (distributions) -> ``spec`` (the sweep file) -> ``search``
(suggestions) -> ``engine`` (runs and the study) -> ``summary``; ``cli`` is ``nested-sweep``.
``hydra_plugins.nested_sweeper`` is the thin Hydra plugin over it.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Searcher", "__version__", "report"]


def __getattr__(name: str) -> Any:
    # Hydra imports the plugin, and so this package, at every app start: no numpy/torch/optuna.
    if name == "Searcher":
        from nested_sweeper.search.searcher import Searcher

        return Searcher
    if name == "report":
        from nested_sweeper.engine.report import report

        return report
    raise AttributeError(name)

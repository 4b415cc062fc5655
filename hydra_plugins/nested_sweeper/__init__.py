"""The Hydra plugin of hydra-nested-sweeper: ``hydra/sweeper=nested``.

Hydra's plugin scan imports every module here whose name lacks a leading ``_``, so this
package holds only the Sweeper class and its config; the library is ``nested_sweeper``.
``Searcher`` and ``report`` are re-exported so older imports keep working.
"""

from __future__ import annotations

from typing import Any

from nested_sweeper import __version__

__all__ = ["Searcher", "__version__", "report"]


def __getattr__(name: str) -> Any:
    if name in ("Searcher", "report"):
        import nested_sweeper

        return getattr(nested_sweeper, name)
    raise AttributeError(name)

"""What happens inside each run's process: the task function wrapped by the sweeper.

The launcher pickles the wrapper with the task (joblib, submitit), so it carries the batch's
suggestions keyed by job number. Before the task it writes ``config.yaml`` and
``suggestion.yaml`` into the run directory; it enforces the run timeout and returns the
task's value with the measured runtime.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# What suggestion.yaml records about a run (the storage URL without its password).
SUGGESTION_KEYS = ("parameters", "round", "trial", "study", "storage", "run", "metric", "goal")


class RunTimeout(Exception):
    """The run took longer than ``hydra.sweeper.run_timeout``."""


@dataclass
class RunOutcome:
    value: Any
    runtime: float
    pruned: bool = False


@dataclass
class TrialRunner:
    task_function: Callable[[Any], Any]
    timeout: float | None = None
    # job number -> {"parameters", "round", "trial", "study", "storage", "run"}
    trials: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __call__(self, cfg: Any) -> RunOutcome:
        from hydra.core.hydra_config import HydraConfig

        from . import _report

        hydra_cfg = HydraConfig.get()
        info = self.trials.get(hydra_cfg.job.num, {})
        out_dir = Path(hydra_cfg.runtime.output_dir)
        write_run_files(out_dir, cfg, info)
        _report.activate(info)
        start = time.perf_counter()
        try:
            with time_limit(self.timeout):
                value = self.task_function(cfg)
        finally:
            pruned = _report.deactivate()
        return RunOutcome(value=value, runtime=time.perf_counter() - start, pruned=pruned)


def write_run_files(out_dir: Path, cfg: Any, info: dict[str, Any]) -> None:
    from omegaconf import OmegaConf

    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        OmegaConf.save(cfg, out_dir / "config.yaml", resolve=True)
    except Exception:  # an interpolation only the app can resolve: keep it unresolved
        OmegaConf.save(cfg, out_dir / "config.yaml", resolve=False)
    if info:
        shown = {k: v for k, v in info.items() if k in SUGGESTION_KEYS}
        shown["storage"] = hide_password(str(info.get("storage", "")))
        OmegaConf.save(OmegaConf.create(shown), out_dir / "suggestion.yaml")


def hide_password(url: str) -> str:
    """The storage URL as it may be written to disk or logs."""
    if not url or url.startswith("sqlite"):
        return url
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL SQLAlchemy can parse: show it without any credentials
        return url.split("@")[-1]


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise ``RunTimeout`` in the run after ``seconds`` (main thread only: SIGALRM)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(signum: int, frame: Any) -> None:
        raise RunTimeout(f"timeout after {seconds:g}s (hydra.sweeper.run_timeout)")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

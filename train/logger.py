"""Run logging: a W&B run, or a null logger with the same methods (no ``if logger:``).

``make_logger`` reads the ``wandb`` config group: ``mode`` offline (the default, no account
needed), online (needs ``WANDB_API_KEY`` or ``wandb login``) or disabled (the null logger, and
wandb is never imported). The W&B run is grouped by the sweep name (``cfg.run``), named after
the run directory, writes into ``<run dir>/wandb/``, and keeps its id in ``<run dir>/wandb_id``
so a restarted run continues the same W&B run.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Protocol

from omegaconf import DictConfig, OmegaConf

WANDB_MODES = ("offline", "online", "disabled")


class Logger(Protocol):
    def log(self, metrics: dict[str, float], step: int) -> None: ...

    def summary(self, metrics: dict[str, float]) -> None: ...

    def finish(self, exit_code: int = 0) -> None: ...


class NullLogger:
    """Accepts everything, records nothing."""

    def log(self, metrics: dict[str, float], step: int) -> None:
        del metrics, step

    def summary(self, metrics: dict[str, float]) -> None:
        del metrics

    def finish(self, exit_code: int = 0) -> None:
        del exit_code


class WandbLogger:
    """One W&B run. Metrics are logged against ``global_step`` (environment steps)."""

    def __init__(self, run: Any) -> None:
        self.run = run
        # Every metric's x-axis is the env step count, not W&B's internal log counter.
        run.define_metric("global_step")
        run.define_metric("*", step_metric="global_step")

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.run.log({**metrics, "global_step": step})

    def summary(self, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.run.summary[key] = value

    def finish(self, exit_code: int = 0) -> None:
        self.run.finish(exit_code=exit_code)


def make_logger(cfg: DictConfig, run_dir: Path) -> Logger:
    """The logger that ``cfg.wandb.mode`` asks for."""
    wb = cfg.wandb
    mode = str(wb.mode)
    if mode not in WANDB_MODES:
        from nested_sweeper.errors import SweepError

        raise SweepError(
            f"unknown mode {mode!r}", key="wandb.mode", fix=f"use one of {', '.join(WANDB_MODES)}"
        )
    if mode == "disabled":
        return NullLogger()
    # Quiet by default; a user who sets these keeps their choice.
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("WANDB_CONSOLE", "off")
    import wandb

    run = wandb.init(
        project=wb.project,
        entity=wb.entity,
        group=str(cfg.run),
        name=run_dir.name,
        tags=list(wb.get("tags") or []),
        config=OmegaConf.to_container(cfg, resolve=True),
        dir=str(run_dir),
        mode=mode,
        # Under `wandb agent` the sweep assigns the id (WANDB_RUN_ID); otherwise our own.
        id=None if os.environ.get("WANDB_RUN_ID") else _run_id(run_dir),
        resume="allow",
        settings=wandb.Settings(
            console="off",
            silent=True,
            disable_git=True,
            x_disable_stats=True,
            x_disable_machine_info=True,
        ),
    )
    return WandbLogger(run)


def _run_id(run_dir: Path) -> str:
    """The W&B id of this run directory, created on first use."""
    path = run_dir / "wandb_id"
    if path.exists():
        return path.read_text().strip()
    run_id = uuid.uuid4().hex[:12]
    path.write_text(run_id + "\n")
    return run_id

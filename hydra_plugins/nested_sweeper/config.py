"""Config of the nested sweeper, registered as ``hydra/sweeper=nested``.

Only hydra, omegaconf and the standard library are imported here: Hydra imports this module at
every application start.
"""

# No `from __future__ import annotations` here: Hydra's plugin scan executes this module
# before it is in sys.modules, and dataclasses cannot resolve string annotations then.
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore

from nested_sweeper.spec.carbs import register_resolver


@dataclass
class NestedSweeperConf:
    _target_: str = "hydra_plugins.nested_sweeper.nested_sweeper.NestedSweeper"

    # Sweep file to run when no `+sweep=NAME` group was composed: a path relative to the
    # config directory without `.yaml` (`sweep/NAME`) or a file path. `sweep_params` at the
    # root of the config (the wrapper's `++sweep_params=sweep/NAME`) has the same effect.
    sweep_file: str | None = None

    # SQLAlchemy URL of the study database; null means sqlite:///<sweep dir>/sweep.db.
    # Use PostgreSQL (postgresql://user@host/db) when workers run on several machines.
    storage: str | None = None

    # Study name inside the storage; null means the `run` name of the config.
    study_name: str | None = None

    # Search method (grid | random | bayes | protein); null means the sweep file's `method`.
    method: str | None = None

    # Seed of the search method; null means the sweep file's `seed`, else 0.
    seed: int | None = None

    # Stop the sweep with an error once failed runs exceed this fraction of the planned runs
    # (rollout_count × num_samples). Runs of a killed worker (reason: interrupted) don't count.
    max_failure_rate: float = 0.5

    # Seconds a run may take before it is recorded FAIL (reason: timeout); null for no limit.
    run_timeout: float | None = None

    # Hydra sweep grammar for extra search spaces, as in hydra-optuna-sweeper:
    # {trainer.learning_rate: "tag(log, interval(1e-5, 1e-2))"}. Command-line sweeps join these.
    # Typed Any, not a dict: Hydra's config is in struct mode, so a dict default would refuse
    # `hydra.sweeper.params={x: 'range(1,4)'}` on the command line (new keys).
    params: Any = None

    # Print the summary when the sweep ends.
    summary: bool = True

    # Runs this worker process starts at most, then it exits (W&B agents' --count): "3
    # workers × 5 runs". The study's total, rollout_count × num_samples, still holds.
    max_runs: int | None = None

    # A function `package.module.function` taking a composed config and raising where a run
    # would fail; called on sampled points of the space before any launch (and by validate).
    check: str | None = None

    # Extra arguments forwarded to the search method (e.g. {n_startup_trials: 5}); Any as above.
    method_kwargs: Any = None


# Legacy `${ss:KIND, MIN, MAX[, CENTER]}` markers resolve to their centre in plain runs; the
# sweeper turns them into parameters. Hydra imports this module at every app start.
register_resolver()

ConfigStore.instance().store(
    group="hydra/sweeper",
    name="nested",
    node=NestedSweeperConf,
    provider="hydra-nested-sweeper",
)

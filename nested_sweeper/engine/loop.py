"""The sweep loop: spec → method → batch → launcher → study, round after round.

    python train.py -m +sweep=protein_working run=demo

loads ``conf/sweep/protein_working.yaml``, opens ``sqlite:///train_dir/sweep/demo/sweep.db``
and runs ``rollout_count`` rounds of ``num_samples`` runs through the configured launcher.
Rerunning the command resumes: finished runs are kept, interrupted ones are failed with
reason ``interrupted`` and replaced, and exactly ``rollout_count × num_samples`` runs finish.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from hydra.core.plugins import Plugins
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from nested_sweeper.engine.check import check_space, load_check
from nested_sweeper.engine.overrides import split_arguments, to_overrides
from nested_sweeper.engine.run import (
    RunOutcome,
    TrialRunner,
    error_reason,
    read_metric,
)
from nested_sweeper.engine.study import (
    PENDING,
    NewTrial,
    Study,
    count,
    fail_reasons,
)
from nested_sweeper.errors import SweepError
from nested_sweeper.records import INTERRUPTED, TrialRecord, TrialState, best_record
from nested_sweeper.search.registry import method_for
from nested_sweeper.spec.spec import (
    SweepSpec,
    _parameter,
    find_sweep_file,
    load_spec,
    parse_spec,
    split_sweep_keys,
)
from nested_sweeper.storage import hide_password, make_dir
from nested_sweeper.text import plural

log = logging.getLogger(__name__)
# Seconds a worker waits for runs of other workers before looking again.
POLL_S = 2.0
# The metric of a plain `-m a=1,2` sweep: runs that return nothing are COMPLETE.
PLAIN_METRIC = "value"
# Study attribute: why the sweep ended; None while a worker runs it.
ENDED = "ended"


# ---------------------------------------------------------------------------- pure helpers


def sweep_file_name(config: DictConfig, sweep_file: str | None) -> str:
    """Which sweep file: the sweeper setting, then `sweep_params`, then `+sweep=NAME`."""
    if sweep_file:
        return sweep_file
    params = OmegaConf.select(config, "sweep_params", default=None)
    if params:
        return str(params)
    choice = OmegaConf.select(config, "hydra.runtime.choices.sweep", default=None)
    if choice:
        return str(choice)
    raise SweepError("no sweep file selected", key="sweep",
                     fix="add +sweep=NAME (conf/sweep/NAME.yaml) or ++sweep_params=sweep/NAME")


def config_dirs(config: DictConfig) -> list[str]:
    sources = OmegaConf.select(config, "hydra.runtime.config_sources", default=[]) or []
    return [s.path for s in sources if s.schema == "file"]


def fixed_cli_paths(fixed_cli: Sequence[str]) -> set[str]:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = OverridesParser.create().parse_overrides(list(fixed_cli))
    return {o.key_or_group for o in overrides}


# ---------------------------------------------------------------------------- the sweeper


class NestedSweeperImpl:
    def __init__(self, **conf: Any) -> None:
        self.conf = conf
        self.config: DictConfig | None = None
        self.launcher: Any = None
        self.runner: TrialRunner | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config = config
        self.runner = TrialRunner(task_function, timeout=self.conf.get("run_timeout"))
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=self.runner
        )

    # ------------------------------------------------------------------ setup of one sweep

    def load(self, arguments: list[str]) -> tuple[SweepSpec, list[str]]:
        assert self.config is not None
        # `hydra.sweeper.params` first, so the command line wins on the same key.
        params = [f"{k}={v}" for k, v in (self.conf.get("params") or {}).items()]
        cli_space, fixed_cli = split_arguments(params + list(arguments))
        try:
            name = sweep_file_name(self.config, self.conf.get("sweep_file"))
        except SweepError:
            if not cli_space:
                raise
            return plain_grid(cli_space), fixed_cli
        path = find_sweep_file(name, config_dirs(self.config)).resolve()
        plain = OmegaConf.to_container(self.config, resolve=False)
        assert isinstance(plain, dict)
        composed, own = split_sweep_keys(cast("dict[str, Any]", plain))  # a config's keys are strings
        # The absolute path: logs and the summary are read from other directories.
        spec = load_spec(path, config=composed, file=str(path), extra=cli_space,
                         overrides=own)
        check_space(spec, composed, load_check(self.conf.get("check")))
        pinned = fixed_cli_paths(fixed_cli) & set(spec.parameters)
        if pinned:
            log.info("fixed on the command line, not searched: %s", ", ".join(sorted(pinned)))
            kept = {k: v for k, v in spec.parameters.items() if k not in pinned}
            spec = replace(spec, parameters=MappingProxyType(kept))
        return spec, fixed_cli

    def sweep(self, arguments: list[str]) -> tuple[str, str] | None:
        assert self.config is not None and self.runner is not None
        spec, fixed_cli = self.load(arguments)
        sweep_dir = Path(self.config.hydra.sweep.dir).resolve()
        make_dir(sweep_dir, "the sweep directory")
        storage = self.conf.get("storage") or f"sqlite:///{sweep_dir / 'sweep.db'}"
        name = self.conf.get("study_name") or str(OmegaConf.select(self.config, "run", default="sweep"))
        method_name = self.conf.get("method") or spec.method
        seed = next(s for s in (self.conf.get("seed"), spec.seed, 0) if s is not None)
        study = Study(storage, name, goal=spec.goal,
                      spec={**spec.to_dict(), "method": method_name, "seed": seed},
                      space=spec.space)
        study.set_study_attr("sweep_dir", str(sweep_dir))
        # As Hydra's basic sweeper does: the composed config of the whole multirun.
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        loop = SweepLoop(self, spec, study, method_name, seed, fixed_cli, storage, name)
        study.set_study_attr(ENDED, None)  # a worker is on it again
        try:
            try:
                loop.run()
            except SweepError as err:  # e.g. max_failure_rate: every worker would stop too
                with contextlib.suppress(SweepError):  # a full disk: keep the first error
                    study.set_study_attr(ENDED, f"stopped: {err.message}")
                raise
            if loop.ended:
                study.set_study_attr(ENDED, loop.ended)
            write_results(sweep_dir / "optimization_results.yaml", study.records(), spec)
        finally:
            study.close()
        # hydra.sweeper.summary: the plugin prints the study's table (engine < summary).
        return (storage, name) if self.conf.get("summary", True) else None


class SweepLoop:
    """Rounds of one sweep in one worker process."""

    def __init__(self, sweeper: NestedSweeperImpl, spec: SweepSpec, study: Study,
                 method_name: str, seed: int, fixed_cli: list[str], storage: str, name: str):
        self.sweeper = sweeper
        self.spec = spec
        self.study = study
        self.fixed = to_overrides(dict(spec.fixed)) + list(fixed_cli)
        self.storage = storage
        self.name = name
        assert sweeper.config is not None  # set up by Hydra before the sweep
        self.run_name = str(OmegaConf.select(sweeper.config, "run", default=name))
        self.target = spec.rollout_count * spec.num_samples
        # W&B agents' --count: this worker runs at most max_runs runs, then exits.
        self.max_runs: int | None = sweeper.conf.get("max_runs")
        self.launched = 0
        kwargs = {**spec.method_kwargs, **dict(sweeper.conf.get("method_kwargs") or {})}
        self.method = method_for(spec, method_name, seed, **kwargs)
        self.max_failure_rate = float(sweeper.conf.get("max_failure_rate", 0.5))
        rule = spec.early_terminate
        self.early_terminate = None if rule is None else vars(rule)
        self.start = time.monotonic()
        self.best: tuple[float, str] | None = None
        self.advance: Callable[[int], None] = lambda done: None
        # Why the whole sweep is over ("finished", "exhausted"), None when only this worker
        # stopped (max_runs): `summary --watch` ends on it (study attribute ENDED).
        self.ended: str | None = None

    def run(self) -> None:
        interrupted = self.study.fail_interrupted()
        if interrupted:
            log.info("marked %d interrupted run(s) FAIL: trials %s", len(interrupted), interrupted)
        records = self.study.records()
        self._note_best(records)
        log.info("sweep '%s': %s, %s × %s, study %s (%d finished before)",
                 self.spec.file, self.method.name, plural(self.spec.rollout_count, "round"),
                 plural(self.spec.num_samples, "run"),
                 hide_password(self.storage), count(records, TrialState.COMPLETE, TrialState.PRUNED))
        with progress_bar(self.target) as self.advance:
            self._rounds()

    def _rounds(self) -> None:
        while True:
            records = self.study.records()
            done = count(records, TrialState.COMPLETE, TrialState.PRUNED)
            running = count(records, TrialState.RUNNING)
            self.advance(done)
            self._note_best(records)
            self.check_failures(records)
            if done >= self.target:
                self.ended = "finished"
                break
            left = self._runs_left()
            if left == 0:
                log.info("this worker ran its max_runs=%d runs; %d of %d done in the study",
                         self.max_runs, done, self.target)
                break
            n = min(self.spec.num_samples, self.target - done - running, left)
            if n <= 0:  # the rest is running in other workers
                time.sleep(POLL_S)
                self.study.fail_interrupted()
                continue
            if not self.run_round(records, n):
                log.info("the search space is exhausted after %d runs", done)
                self.ended = "exhausted"
                break

    def _runs_left(self) -> int:
        """Runs this worker may still start (hydra.sweeper.max_runs), large without a cap."""
        if self.max_runs is None:
            return self.target
        return max(0, int(self.max_runs) - self.launched)

    def suggest(self, records: list[TrialRecord], n: int) -> list[dict[str, Any]]:
        if not self.spec.parameters:
            return [{} for _ in range(n)]
        return [self.spec.active_params(s) for s in self.method.suggest(records, n)]

    def run_round(self, records: list[TrialRecord], n: int) -> bool:
        """Claim ``n`` slots, then choose their points, then launch; False once exhausted.

        Claim before suggest: placeholders fix each slot's place among all the slots of
        workers racing on one study, and a slot takes the batch's point at its place (same
        history and seed give every worker the same batch), so two workers starting together
        run different points instead of both taking the centre.
        """
        if self.spec.parameters:  # a finite space (grid): claim no more slots than it has left
            left = self.method.capacity([r for r in records if not r.attrs.get(PENDING)])
            if left == 0:
                return False
            n = n if left is None else min(n, left)
        slots = self._claim_slots(self.round_of(records), n)
        if not slots:
            return True
        records = self.study.records()
        # A slot's place among all pending placeholders picks its point in the batch; the
        # slots of racing workers interleave, so each slot counts its own place.
        pending = sorted(r.number for r in records
                         if r.attrs.get(PENDING) and r.state is TrialState.RUNNING)
        places = [bisect.bisect_left(pending, slot.number) for slot in slots]
        history = [r for r in records if not r.attrs.get(PENDING)]
        batch = self.suggest(history, places[-1] + 1)
        kept = [(slot, batch[place]) for slot, place in zip(slots, places) if place < len(batch)]
        for slot in slots[len(kept):]:  # the space ran out: give the slots back
            self.study.discard(slot, "not needed: the search space is exhausted")
        trials = self.study.fill([slot for slot, _ in kept], [point for _, point in kept])
        self.launched += len(trials)
        for group in _contiguous(trials):
            self.launch(group)
        return bool(kept)

    def _claim_slots(self, round_: int, n: int) -> list[NewTrial]:
        """Up to ``n`` placeholders this worker won, made one at a time.

        A claim is lost only when other workers' runs already fill the target, so stopping
        at the first loss costs a worker one placeholder (never a run) when the target fills.
        """
        slots: list[NewTrial] = []
        for _ in range(n):
            slot = self.study.create({}, round=round_, attrs={PENDING: True})
            if not self.study.claim([slot], self.target):
                break
            slots.append(slot)
        return slots

    def round_of(self, records: list[TrialRecord]) -> int:
        """The round a new batch belongs to: the planned slot it fills, 0-based.

        Runs that count (finished or running, not failed) fill the slots in order, so a
        replacement for a failed run joins its round and no round number passes
        rollout_count, however many runs failed or how many workers share the study.
        """
        live = sum(1 for r in records if r.state is not TrialState.FAIL)
        return min(self.spec.rollout_count - 1, live // self.spec.num_samples)

    def launch(self, trials: list[NewTrial]) -> None:
        sweeper = self.sweeper
        assert sweeper.runner is not None
        batch = []
        # Only this batch: joblib and submitit pickle the runner into every job.
        sweeper.runner.trials.clear()
        for trial in trials:
            run = f"{self.run_name}.r.{trial.number}"
            self.study.set_attrs(trial, {"run_name": run, "job_num": trial.number})
            sweeper.runner.trials[trial.number] = {
                "parameters": trial.params, "round": trial.round, "trial": trial.number,
                "trial_id": trial.trial_id, "study": self.name, "storage": self.storage,
                "run": run, "metric": self.spec.metric, "goal": self.spec.goal,
                "early_terminate": self.early_terminate,
            }
            batch.append(self.fixed + to_overrides(trial.params))
        try:
            returns = sweeper.launcher.launch(batch, initial_job_idx=trials[0].number)
        except Exception as err:  # joblib/submitit lose the whole batch when a worker dies
            first_line = (str(err).strip().splitlines() or [""])[0]
            reason = f"launcher: {type(err).__name__}: {first_line}"
            if not self._any_started(trials):
                self._launch_refused(trials, reason)
            for trial in trials:
                self.study.finish(trial, TrialState.FAIL, None, {"fail_reason": reason})
                self._progress(trial, TrialState.FAIL, None, reason)
            return
        for trial, ret in zip(trials, returns):
            self.record(trial, ret)

    def _any_started(self, trials: list[NewTrial]) -> bool:
        """Whether any of these runs began: each run writes suggestion.yaml first thing."""
        numbers = {t.number for t in trials}
        assert self.sweeper.config is not None  # set up before any round
        sweep_dir = Path(str(self.sweeper.config.hydra.sweep.dir))
        for path in sweep_dir.rglob("suggestion.yaml"):
            text = path.read_text(errors="replace")
            if any(f"trial: {n}\n" in text for n in numbers):
                return True
        return False

    def _launch_refused(self, trials: list[NewTrial], reason: str) -> None:
        """No run started (submission refused, cluster unreachable): no run is to blame.

        The trials are dropped from the study, not failed, and the sweep stops at once, so
        a wrong launcher setting costs no run and the rerun resumes where it was.
        """
        for trial in trials:
            self.study.discard(trial, f"not launched: {reason}")
        raise SweepError(f"the launcher started none of the runs: {reason}", key="hydra/launcher",
                         fix="fix the launcher settings or the cluster (nothing was recorded "
                             "as a failed run); rerun the same command to resume")

    def record(self, trial: NewTrial, ret: Any) -> None:
        from hydra.core.utils import JobStatus

        try:
            run_dir = str(Path(ret.working_dir if ret.working_dir else ".").resolve())
        except Exception:  # a job return Hydra could not fill in: the run's path is unknown
            run_dir = ""
        attrs: dict[str, Any] = {"run_dir": _output_dir(ret) or run_dir}
        outcome = getattr(ret, "_return_value", None)
        reason: str | None
        if getattr(ret, "status", None) == JobStatus.FAILED:
            value, numbers, reason = None, dict[str, float](), error_reason(outcome)
        else:
            value, numbers, reason = read_metric(outcome, self.spec.metric)
            if self.spec.file == "command line" and _returned_none(outcome):
                reason = None  # a plain `-m a=1,2` run need not return anything
        runtime = outcome.runtime if isinstance(outcome, RunOutcome) else None
        attrs.update(metrics=numbers, runtime=runtime,
                     cost=numbers.get(self.spec.cost or "", runtime))
        if reason is not None:
            state = TrialState.FAIL
            attrs["fail_reason"] = reason
        elif isinstance(outcome, RunOutcome) and outcome.pruned:
            state = TrialState.PRUNED
        else:
            state = TrialState.COMPLETE
        self.study.finish(trial, state, value, attrs)
        self._progress(trial, state, value, reason)

    def _progress(self, trial: NewTrial, state: TrialState, value: float | None,
                  reason: str | None) -> None:
        run = f"{self.run_name}.r.{trial.number}"
        if value is not None and state is not TrialState.FAIL:
            if self.best is None or _better(value, self.best[0], self.spec.goal):
                self.best = (value, run)
        shown = f"{self.spec.metric}={value:.6g}" if value is not None else f"FAIL ({reason})"
        best = f"best={self.best[0]:.6g} ({self.best[1]})" if self.best else "best=-"
        log.info("[round %d/%d] %s %s %s  elapsed %.1fs", trial.round + 1,
                 self.spec.rollout_count, run, shown, best, time.monotonic() - self.start)

    def _note_best(self, records: list[TrialRecord]) -> None:
        """The study's best run (every worker's), refreshed each round."""
        self.best = None
        for r in records:
            if r.ok and r.value is not None and (self.best is None or _better(r.value, self.best[0], self.spec.goal)):
                self.best = (r.value, r.attrs.get("run_name", str(r.number)))

    def check_failures(self, records: list[TrialRecord]) -> None:
        """Stop once failures exceed max_failure_rate × the planned number of runs.

        Runs of a killed worker (reason ``interrupted``) do not count: the worker died, not them.
        """
        failed = sum(1 for r in records if r.state is TrialState.FAIL
                     and r.attrs.get("fail_reason") != INTERRUPTED)
        if failed and failed > self.max_failure_rate * self.target:
            reasons = fail_reasons(records)
            shown = "; ".join(reasons[-10:])
            raise SweepError(
                f"{failed} runs failed, more than max_failure_rate {self.max_failure_rate} × "
                f"{self.target} planned runs; failures: {shown}",
                key="hydra.sweeper.max_failure_rate",
                fix="fix the failing runs (see their run directories), or raise max_failure_rate",
            )


@contextlib.contextmanager
def progress_bar(total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar of finished runs on a terminal; elsewhere the log lines suffice."""
    if not sys.stdout.isatty():
        yield lambda done: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("sweep", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        task = bar.add_task("runs", total=total)
        yield lambda done: bar.update(task, completed=done)


def _better(a: float, b: float, goal: str) -> bool:
    return a > b if goal == "maximize" else a < b


def _contiguous(trials: list[NewTrial]) -> list[list[NewTrial]]:
    """Trials split into runs of consecutive numbers: a launch numbers its jobs contiguously."""
    groups: list[list[NewTrial]] = []
    for trial in trials:
        if groups and groups[-1][-1].number + 1 == trial.number:
            groups[-1].append(trial)
        else:
            groups.append([trial])
    return groups


def _returned_none(outcome: Any) -> bool:
    return (outcome.value if isinstance(outcome, RunOutcome) else outcome) is None


def _output_dir(ret: Any) -> str | None:
    try:
        return str(Path(ret.hydra_cfg.hydra.runtime.output_dir).resolve())
    except Exception:
        return None


def plain_grid(space: Mapping[str, Mapping[str, Any]]) -> SweepSpec:
    """`-m a=1,2 b=x,y` without a sweep file: one round of the whole grid, as Hydra's basic
    sweeper launches it. Runs may return nothing: a run without the metric is COMPLETE."""
    from nested_sweeper.search.methods import Grid

    spec = parse_spec({"sweep": {"method": "grid", "metric": PLAIN_METRIC}}, file="command line")
    params = {path: _parameter(path, block, "command line", path) for path, block in space.items()}
    size = Grid({k: p.distribution for k, p in params.items()}).size
    return replace(spec, parameters=MappingProxyType(params), num_samples=size, rollout_count=1)


def write_results(path: Path, records: list[TrialRecord], spec: SweepSpec) -> None:
    """`optimization_results.yaml`, as Hydra's Optuna, Ax and Nevergrad sweepers write it."""
    best = best_record(records, spec.goal)
    if best is None:
        return
    OmegaConf.save(OmegaConf.create({"name": "nested", "best_params": best.params,
                                     "best_value": best.value,
                                     "best_run": best.attrs.get("run_name")}), path)


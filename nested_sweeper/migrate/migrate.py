"""``nested-sweep migrate``: rewrite legacy sweep files into the nested sweep-file format.

Four legacy shapes are read, alone or mixed in one file:

* CARBS markers anywhere (``trainer: {learning_rate: ${ss:log, 1e-5, 1e-1}}`` or ``$<ss:...>``):
  each becomes a parameter at its dotted path (:mod:`nested_sweeper.spec.carbs` gives distribution and centre).
* CARBS parameter blocks: a root ``parameters:`` tree nested by group whose leaves hold
  ``space: linear | log | logit | pow2``, ``min``, ``max`` and optional ``is_int``/``search_center``.
* Root-level overrides (``trainer: {total_timesteps: 2048}``): moved under ``sweep.<group>``.
* W&B sweep files (``method``/``metric``/``parameters``/``early_terminate``/``run_cap`` and
  ``program``/``command``): ``metric: {name, goal}`` becomes ``metric`` + ``goal``, nested
  ``parameters`` blocks flatten to dotted paths, ``value`` parameters become fixed overrides,
  ``run_cap: N`` becomes ``rollout_count: N`` with ``num_samples: 1``, Hydra overrides in
  ``command:`` become fixed overrides and every other word of it is named as dropped.
* Metta/PufferLib Protein files: a distribution anywhere (also directly under ``sweep:``) is a
  parameter; ``scale: auto``/``time`` become numbers; the ``protein:`` block and the CARBS
  runner's keys map to ``sweep.method_kwargs`` (``n_init``, ``max_cost``,
  ``seed_with_search_center``; ``n_startup_trials`` for bayes) or are dropped with the reason.

Every key is mapped, dropped with a reason in the list of changes, or refused with a
:class:`SweepError` naming the key and the fix (the README's migration table lists them); the
result is parsed as a sweep before it is returned, so it never fails later.

Example: ``migrate_text`` turns the legacy file on the left into the one on the right and lists
one line per change (``trainer.learning_rate: ${ss:log, 1e-5, 1e-1} -> sweep.parameters...``)::

    trainer:                                  # @package _global_
      learning_rate: ${ss:log, 1e-5, 1e-1}    sweep:
      total_timesteps: 2048                     method: protein
                                                parameters:
                                                  trainer.learning_rate: {distribution: log_normal,
                                                    min: 1.0e-05, max: 0.1, mean: 0.001, scale: 0.5}
                                                trainer:
                                                  total_timesteps: 2048

The YAML is edited with ruamel.yaml's round-trip mode, so comments travel with the keys they
belong to. A file that needs nothing comes back byte for byte. Paths are not checked here:
``nested-sweep validate`` checks them against the composed config.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from io import StringIO
from typing import Any, TextIO

from nested_sweeper.errors import SweepError
from nested_sweeper.schema import DEFAULT_NUM_SAMPLES, DEFAULT_ROLLOUT_COUNT, LOGIT_EPS, METHODS
from nested_sweeper.spec.carbs import (
    ChoiceMarker,
    Marker,
    fixed_marker_value,
    marker_from_args,
    parse_marker,
)

# Keys a sweep file may hold at its root; everything else moves under `sweep`.
ROOT_KEYS = ("defaults", "rollout_count", "num_samples", "sweep")
# Settings of the search itself (as `spec.spec.SETTINGS`), in the order they are written under `sweep`.
SETTINGS = (
    "name",
    "description",
    "method",
    "metric",
    "goal",
    "parameters",
    "early_terminate",
    "seed",
    "cost",
    "method_kwargs",
    "rollout_count",
    "num_samples",
)
# Config groups of conf/train.yaml: a root key outside these is moved too, with a note.
CONFIG_GROUPS = ("trainer", "env", "hardware", "wandb", "user")
# Keys only a W&B sweep file has at its root.
WANDB_ROOT = ("program", "command", "run_cap", "early_terminate", "project", "entity")
# W&B keys about W&B's own controller and launcher: dropped, with the reason.
WANDB_DROPPED = {
    "controller": "W&B's sweep controller; the sweeper is the controller here",
    "job": "a W&B Launch job; the sweeper launches this Hydra app itself",
    "image_uri": "a W&B Launch image; the sweeper launches this Hydra app itself",
    "scheduler": "W&B Launch's scheduler; hydra/launcher decides where runs go",
    "launch": "W&B Launch settings; hydra/launcher decides where runs go",
}
# Keys that make a mapping a parameter specification rather than a nested config group.
SPEC_KEYS = frozenset(
    {"distribution", "value", "values", "min", "max", "mu", "sigma", "q", "probabilities"}
    | {"a", "b", "mean", "scale", "space", "is_int", "search_center", "grid_points", "when"}
    | {"is_integer", "is_pow2", "rounding_factor"}
)
CARBS_BLOCK_KEYS = frozenset(
    {"space", "min", "max", "is_int", "is_integer", "is_pow2", "rounding_factor",
     "search_center", "scale"}
)
# Methods of other tools that have a faithful equivalent here.
METHOD_ALIASES = {"carbs": "protein"}
# Metta's / PufferLib's `protein:` settings with an equivalent constructor setting of ours.
PROTEIN_KWARGS = {
    "num_random_samples": "n_init",
    "seed_with_search_center": "seed_with_search_center",
    "max_suggestion_cost": "max_cost",
}
# ... and those without one: dropped, with the reason in the list of changes.
PROTEIN_DROPPED = {
    "expansion_rate": "PufferLib's cost-target sampling; our protein trades score against "
    "cost by EI per unit of cost (method_kwargs.cost_weight)",
    "global_search_scale": "candidate widths come from each parameter's own scale",
    "random_suggestions": "our protein scores n_candidates Sobol and local candidates and "
    "polishes the best by gradient (method_kwargs.n_candidates)",
    "suggestions_per_pareto": "local candidates are drawn around the best runs and the "
    "score/cost front in every suggestion",
    "resample_frequency": "re-running a Pareto point has no equivalent; num_samples > 1 "
    "runs several points per round",
    "phase": "a label for Metta's logs, not a search setting",
    "acquisition_fn": "our protein always uses log expected improvement",
    "ucb_beta": "our protein always uses log expected improvement",
    "beta_ucb": "our protein always uses log expected improvement",
    "xi_ei": "our log expected improvement has no exploration offset; the scales set how "
    "far candidates reach",
    "randomize_acquisition": "batches are spread by the kriging believer instead",
    "min_score": "scores are warped and standardized (method_kwargs.output_warp), no bounds needed",
    "max_score": "scores are warped and standardized (method_kwargs.output_warp), no bounds needed",
}
# Legacy settings of Metta's CARBS/Protein sweep runner and PufferLib's [sweep] section, at
# the root or under `sweep:` ("" = mapped, see _legacy_settings).
LEGACY_SETTINGS = {
    "protein": "",
    **{key: "" for key in PROTEIN_KWARGS},
    "resume": "resuming is automatic: rerunning the same sweep continues its stored study",
    "max_observations_to_load": "the study keeps every observation; nothing is loaded from W&B",
    "downsample": "PufferLib's sampling of the score curve; the sweeper reads each run's "
    "returned metric",
    "use_gpu": "our protein's GP is small and runs on the CPU",
    "prune_pareto": "our protein keeps every trial in its model",
}
# Metta's CARBS-era sweep runner read these beside `parameters:` (the file was its config,
# not the run's): how its evaluation step scored a run. Dropped in such files.
METTA_RUNNER = {
    "eval": "Metta's sweep-evaluation settings; here each run returns its own metric",
    "evaluator": "Metta's sweep-evaluation settings; here each run returns its own metric",
    "generation": "Metta's sweep-runner setting for regenerating runs; no equivalent",
    "test": "Metta's scoring of sweep evaluations (raw, elo, glicko); the metric is used as is",
}
# W&B command-line macros: the sweeper passes each run's values itself.
COMMAND_MACROS = re.compile(r"^\$\{(env|interpreter|program|args|args_no_hyphens|args_json|"
                            r"args_json_file|args_no_boolean_flags)\}$")
_OVERRIDE = re.compile(r"^(\+{0,2})([A-Za-z_][\w.\-]*)=(.*)$")
CARBS_SPACES = ("linear", "log", "logit", "pow2", "int")
_PACKAGE = re.compile(r"^#\s*@package\s+(\S+)\s*$")
_HEADER = "# @package _global_"


@dataclass
class Migration:
    """The migrated text, one human-readable line per change, and the legacy shape found.

    ``kind`` is ``"wandb"``, ``"carbs"`` (markers), ``"carbs-params"`` (CARBS ``space:``
    blocks), ``"root-overrides"`` (only keys moved under ``sweep``) or ``"none"``.
    """

    text: str
    changes: list[str]
    kind: str


def migrate_text(text: str, *, file: str = "<string>") -> Migration:
    """Migrate one sweep file's text; raises :class:`SweepError` for input it cannot convert."""
    header, has_package = _header_lines(text, file)
    yaml = _yaml()
    root = _load(yaml, text, file)
    _lift_leading(root)
    m = _Migrator(file, root)
    m.run()
    changes = list(m.changes)
    if not changes:
        # Already nested. Without the package line Hydra composes the file under `sweep.`,
        # which the loader reads the same (the guides' files), so it needs nothing.
        return Migration(text=text, changes=[], kind="none")
    if not has_package:
        changes.insert(
            0, f"added '{_HEADER}' as the first line (Hydra merges the file at the root)"
        )
    if m.structural:
        root.ca.comment = None  # the header comments are written back textually below
        _lower_leading(root)
        body = StringIO()
        yaml.dump(root, body)
        lines = [_HEADER, *header]
        new_text = "\n".join(lines) + "\n" + _indent_comments(body.getvalue())
    else:
        new_text = f"{_HEADER}\n{text}"
    changes.extend(_parse_notes(new_text, file))
    return Migration(text=new_text, changes=changes, kind=m.kind())


def _parse_notes(text: str, file: str) -> list[str]:
    """Parse the migrated file as a sweep would: its errors refuse the migration (never an
    output that fails later), its warnings become notes in the list of changes."""
    import warnings

    from omegaconf import OmegaConf

    from nested_sweeper.spec.spec import parse_spec

    raw = OmegaConf.to_container(OmegaConf.create(text), resolve=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parse_spec(raw, file=file)
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return [f"note: {n.removeprefix(f'{file}: ')}" for n in notes]


def migrate_main(paths: list[str], *, in_place: bool, out: TextIO, err: TextIO) -> int:
    """Migrate files for the command line; returns the exit code (0 ok, 2 on any error).

    Without ``in_place`` the migrated YAML goes to ``out`` (so ``> new.yaml`` works) and the
    list of changes to ``err``; with it, changed files are rewritten and the changes listed
    on ``out``. Errors print as one line on ``err``, never as a traceback.
    """
    code = 0
    for path in paths:
        try:
            result = migrate_text(_read(path), file=path)
        except SweepError as error:
            print(f"error: {error}", file=err)
            code = 2
            continue
        if in_place:
            _report_in_place(path, result, out)
        else:
            _report_printed(path, result, out, err, many=len(paths) > 1)
    return code


def _read(path: str) -> str:
    """The file's text; a path that cannot be read is a SweepError naming it and the fix."""
    fix = "check the path: migrate takes sweep YAML files, e.g. conf/sweep/NAME.yaml"
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        raise SweepError("no such file", file=path, fix=fix) from None
    except IsADirectoryError:
        raise SweepError("is a directory, not a sweep file", file=path, fix=fix) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise SweepError(f"cannot read the file: {reason}", file=path,
                         fix="check its permissions and that it is UTF-8 text") from None


# --- the migration ---------------------------------------------------------------------------


@dataclass
class _Migrator:
    """One file's migration: edits ``root`` (a ruamel CommentedMap) in place."""

    file: str
    root: Any
    changes: list[str] = field(default_factory=list)
    structural: bool = False  # the YAML tree changed (else only the header line is added)
    found: set[str] = field(default_factory=set)
    # (legacy key, value, where) of search settings that become method_kwargs (or notes)
    legacy_kwargs: list[tuple[str, Any, str]] = field(default_factory=list)
    params_comment: Any = None  # the comment of a root `parameters:` key, for sweep.parameters
    command: Any = None  # a W&B `command:` list, read once `sweep` exists

    def run(self) -> None:
        root = self.root
        if any(k in root for k in WANDB_ROOT) or _is_wandb_metric(root.get("metric")):
            self.found.add("wandb")
            self._wandb_root_keys()
        sweep = root.get("sweep")
        if sweep is not None and not isinstance(sweep, Mapping):
            raise SweepError("`sweep` must be a mapping", file=self.file, key="sweep")
        self.sweep = _new_map() if sweep is None else sweep
        self.params = self._existing_params()
        self._settings_from_root()
        self._legacy_settings()
        self._runner_keys()
        self._command_overrides()
        for key in [k for k in root if k not in ROOT_KEYS and k != "parameters"]:
            self._move_root_key(key)
        self._markers_in_sweep_groups()
        self._root_parameters()
        self._place_params()
        self._check_params(self.params, "", where="sweep.parameters")
        if "wandb" in self.found and "metric" not in self.sweep:
            self.changes.append(
                "no metric: the sweep reads 'reward' (the default); set sweep.metric to the "
                "name your runs return"
            )
        self._resolve_method()
        self._place_method_kwargs()
        if sweep is None and len(self.sweep):
            if "sweep" in root:
                root["sweep"] = self.sweep  # it was `sweep:` with nothing under it
            else:
                root.insert(len(root), "sweep", self.sweep)
        self._check_disjoint()

    def kind(self) -> str:
        for kind in ("wandb", "carbs", "carbs-params", "root-overrides"):
            if kind in self.found:
                return kind
        return "none"

    # -- root keys ---------------------------------------------------------------------------

    def _wandb_root_keys(self) -> None:
        root = self.root
        if "program" in root:
            self._drop(
                "program",
                "program: not needed (the sweeper launches each run of this Hydra app itself); "
                f"dropped {_plain(root['program'])!r}",
            )
        if "command" in root:
            self.command, _ = _pop(root, "command", header=True)
            self.structural = True
        self._refuse_foreign_search_spaces()
        for key, why in WANDB_DROPPED.items():
            if key in root:
                self._drop(key, f"{key}: {_plain(root[key])} dropped ({why})")
        for key in ("project", "entity"):
            if key in root:
                value = root[key]
                self._drop(
                    key, f"{key}: {value} removed; set wandb.{key}={value} in the wandb config"
                )
        if "run_cap" in root:
            self._run_cap()
        elif not self._has_counts():
            # W&B runs until stopped without run_cap; here the spec's defaults decide.
            self.changes.append(
                f"no run_cap: rollout_count defaults to {DEFAULT_ROLLOUT_COUNT} (num_samples "
                f"{DEFAULT_NUM_SAMPLES}: {DEFAULT_ROLLOUT_COUNT * DEFAULT_NUM_SAMPLES} runs in "
                "all); set rollout_count: N to choose the budget"
            )

    def _refuse_foreign_search_spaces(self) -> None:
        """A search space kept outside ``parameters:`` (Ray Tune, an Optuna scheduler's source)
        cannot be read here; dropping it would leave a sweep that searches nothing."""
        if "tune" in self.root:
            raise SweepError(
                "a Ray Tune search space (tune.search_alg) cannot be migrated",
                file=self.file,
                key="tune",
                fix="write the space as parameters: (hp.choice -> values: [...], "
                "hp.uniform -> {min, max}) and delete tune:",
            )
        scheduler = self.root.get("scheduler")
        if isinstance(scheduler, Mapping) and scheduler.get("settings"):
            raise SweepError(
                "a W&B Launch scheduler's own search settings cannot be migrated",
                file=self.file,
                key="scheduler.settings",
                fix="write the search space as parameters: and pick a method, then delete "
                "scheduler:",
            )

    def _has_counts(self) -> bool:
        sweep = self.root.get("sweep")
        places = [self.root, sweep if isinstance(sweep, Mapping) else {}]
        return any(k in place for place in places for k in ("rollout_count", "num_samples"))

    def _run_cap(self) -> None:
        root = self.root
        cap = root["run_cap"]
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise SweepError(
                f"run_cap must be a positive integer, got {_plain(cap)!r}",
                file=self.file,
                key="run_cap",
                fix="write the number of runs, e.g. run_cap: 20",
            )
        if "rollout_count" in root or "num_samples" in root:
            raise SweepError(
                "run_cap and rollout_count/num_samples are both given",
                file=self.file,
                key="run_cap",
                fix="keep one of them",
            )
        pos = list(root).index("run_cap")
        comment = root.ca.items.get("run_cap")
        self._drop("run_cap", "")
        root.insert(pos, "rollout_count", cap)
        root.insert(pos + 1, "num_samples", 1)
        _store_comment(root, "rollout_count", comment)
        self.changes.append(
            f"run_cap: {cap} -> rollout_count: {cap}, num_samples: 1 (runs per round)"
        )

    def _drop(self, key: str, note: str) -> None:
        del self.root[key]
        self.structural = True
        if note:
            self.changes.append(note)

    def _settings_from_root(self) -> None:
        root = self.root
        moved = ["method", "metric", "goal", "early_terminate", "cost"]
        if "wandb" in self.found:
            moved[:0] = ["name", "description"]  # W&B's sweep name/description
        for key in moved:
            if key not in root:
                continue
            value, comment = _pop(root, key, header=True)
            self.structural = True
            self.found.add("root-overrides")
            if key == "metric" and isinstance(value, Mapping):
                self._metric_mapping(value, "metric")
            else:
                self._insert_setting(key, value, comment)
                self.changes.append(f"{key}: moved under sweep.{key}")
        metric = self.sweep.get("metric")
        if "wandb" in self.found and isinstance(metric, Mapping):
            del self.sweep["metric"]
            self.structural = True
            self._metric_mapping(metric, "sweep.metric")
        early = self.sweep.get("early_terminate")
        if isinstance(early, Mapping) and "strict" in early:
            del early["strict"]
            self.structural = True
            self.changes.append("early_terminate.strict: dropped (W&B's strict hyperband; "
                                "Optuna's HyperbandPruner, which runs it here, has no strict mode)")

    def _metric_mapping(self, metric: Mapping[str, Any], where: str) -> None:
        if "name" not in metric:
            raise SweepError(
                "metric needs a name", file=self.file, key=where, fix="metric: {name: reward}"
            )
        name, goal = metric["name"], metric.get("goal")
        self._insert_setting("metric", name)
        if goal is None:
            self.changes.append(f"{where}: {{name: {name}}} -> sweep.metric: {name}")
        else:
            self._insert_setting("goal", goal)
            self.changes.append(
                f"{where}: {{name: {name}, goal: {goal}}} -> sweep.metric: {name}, sweep.goal: {goal}"
            )
        for extra in sorted(set(metric) - {"name", "goal"}):
            self.changes.append(
                f"{where}.{extra}: removed (the nested sweeper has no such setting)"
            )

    def _insert_setting(self, key: str, value: Any, comment: Any = None) -> None:
        sweep = self.sweep
        if key in sweep:
            if _plain(sweep[key]) != _plain(value):
                raise SweepError(
                    f"{key} is given both at the root ({_plain(value)!r}) and under sweep "
                    f"({_plain(sweep[key])!r})",
                    file=self.file,
                    key=key,
                    fix=f"keep only sweep.{key}",
                )
            return
        sweep.insert(_setting_pos(sweep, key), key, value)
        _store_comment(sweep, key, comment)

    # -- legacy search settings (Metta's protein:/CARBS keys, W&B methods) -----------------

    def _legacy_settings(self) -> None:
        """``protein:``, ``num_random_samples``, ``resume`` ... at the root or under ``sweep``."""
        for place, prefix in ((self.root, ""), (self.sweep, "sweep.")):
            for key in [k for k in place if k in LEGACY_SETTINGS]:
                value, _ = _pop(place, key, header=place is self.root)
                self.structural = True
                where = f"{prefix}{key}"
                if key == "protein":
                    self._protein_block(value, where)
                elif key in PROTEIN_KWARGS:
                    self.legacy_kwargs.append((str(key), value, where))
                else:
                    self.changes.append(
                        f"{where}: {_plain(value)} dropped ({LEGACY_SETTINGS[key]})"
                    )

    def _runner_keys(self) -> None:
        """In a CARBS-block file, Metta's runner keys describe the runner, not the runs."""
        params = self.root.get("parameters")
        if not (isinstance(params, Mapping) and _has_carbs_block(params)):
            return
        for key in [k for k in self.root if k in METTA_RUNNER]:
            self._drop(key, f"{key}: dropped ({METTA_RUNNER[key]})")

    def _protein_block(self, block: Any, where: str) -> None:
        if not isinstance(block, Mapping):
            raise SweepError(
                f"must be a mapping of Protein settings, got {_plain(block)!r}",
                file=self.file,
                key=where,
                fix="e.g. protein: {num_random_samples: 10}",
            )
        for key, value in block.items():
            here = f"{where}.{key}"
            if key in PROTEIN_KWARGS:
                self.legacy_kwargs.append((str(key), value, here))
            elif key in PROTEIN_DROPPED:
                self.changes.append(
                    f"{here}: {_plain(value)} dropped (no equivalent: {PROTEIN_DROPPED[key]})"
                )
            else:
                known = sorted([*PROTEIN_KWARGS, *PROTEIN_DROPPED])
                raise SweepError(
                    f"unknown Protein setting {key!r}",
                    file=self.file,
                    key=here,
                    fix=f"remove it (known: {', '.join(known)})",
                )

    def _resolve_method(self) -> None:
        """A method we have, written out when the file's parameters imply one."""
        method = self.sweep.get("method")
        if method is None:
            # Without a method a file gets protein (the spec's default, as in Metta); CARBS
            # files say so explicitly, as CARBS's successor that uses their centres.
            if self.found & {"carbs", "carbs-params"}:
                self._insert_setting("method", "protein")
                self.changes.append("sweep.method: protein (CARBS's successor; it uses the centres)")
            return
        name = str(method)
        if name.lower() != name and name.lower() in (*METHODS, *METHOD_ALIASES):
            self.sweep["method"] = name = METHOD_ALIASES.get(name.lower(), name.lower())
            self.structural = True
            self.changes.append(f"sweep.method: {method} -> {name} (our names are lower case)")
        if name in METHOD_ALIASES:
            self.sweep["method"] = METHOD_ALIASES[name]
            self.structural = True
            self.changes.append(f"sweep.method: {name} -> {METHOD_ALIASES[name]} (its successor)")
        elif name not in METHODS:
            raise SweepError(
                f"method {name!r} is not one of ours",
                file=self.file,
                key="sweep.method",
                fix=f"use one of {', '.join(METHODS)} (bayes or protein for a model-based search)",
            )
        elif name != "protein" and "protein" in self.found and self.changes:
            # a note for legacy files only: a nested file saying bayes means it
            self.changes.append(
                f"sweep.method: {name} kept as the file says; its parameters' mean/scale shape "
                "only method: protein's search (Metta ran Protein for such files): set "
                "method: protein to use them"
            )

    def _place_method_kwargs(self) -> None:
        method = str(self.sweep.get("method", "protein"))
        kwargs: dict[str, Any] = {}
        for key, value, where in self.legacy_kwargs:
            mapped = self._method_kwarg(method, key, value, where)
            if mapped is not None:
                kwargs[mapped[0]] = mapped[1]
        if not kwargs:
            return
        node = self.sweep.get("method_kwargs")
        if node is None:
            node = _new_map(flow=True)
            self.sweep.insert(_setting_pos(self.sweep, "method_kwargs"), "method_kwargs", node)
        elif not isinstance(node, Mapping):
            raise SweepError("must be a mapping", file=self.file, key="sweep.method_kwargs",
                             fix="e.g. method_kwargs: {n_init: 5}")
        for key, value in kwargs.items():
            self._merge(node, key, value, None, where=f"sweep.method_kwargs.{key}")
        self.structural = True

    def _method_kwarg(
        self, method: str, key: str, value: Any, where: str
    ) -> tuple[str, Any] | None:
        """(our setting, value) for one legacy setting, or None (dropped with a note)."""
        if key == "num_random_samples" and method in ("protein", "bayes"):
            target = "n_init" if method == "protein" else "n_startup_trials"
            count = self._count_setting(value, where)
            if method == "protein" and count < 1:
                # our protein's first trial is always part of the warm-up (the centre)
                self.changes.append(f"{where}: {count} -> sweep.method_kwargs.n_init: 1 (min)")
                return target, 1
            self.changes.append(f"{where}: {count} -> sweep.method_kwargs.{target}: {count}")
            return target, count
        if method != "protein":
            reason = "no model to warm up" if key == "num_random_samples" else \
                "it applies to method protein only"
            self.changes.append(
                f"{where}: {_plain(value)} dropped (the file's method is {method}: {reason})"
            )
            return None
        target = PROTEIN_KWARGS[key]
        checked = self._protein_value(target, value, where)
        if checked is None:
            self.changes.append(f"{where}: null dropped (no cap)")
            return None
        self.changes.append(f"{where}: {_plain(value)} -> sweep.method_kwargs.{target}: {checked}")
        return target, checked

    def _count_setting(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SweepError(f"must be a whole number >= 0, got {_plain(value)!r}",
                             file=self.file, key=where, fix="e.g. num_random_samples: 10")
        return int(value)

    def _protein_value(self, target: str, value: Any, where: str) -> Any:
        if target == "seed_with_search_center":
            if not isinstance(value, bool):
                raise SweepError(f"must be true or false, got {_plain(value)!r}",
                                 file=self.file, key=where, fix="write true or false")
            return value
        if value is None:
            return None
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value <= 0:
            raise SweepError(f"must be a positive number, got {_plain(value)!r}",
                             file=self.file, key=where, fix="e.g. max_suggestion_cost: 3600")
        return value

    # -- W&B command: --------------------------------------------------------------------

    def _command_overrides(self) -> None:
        """Hydra overrides in ``command:`` become fixed overrides; every other word is named."""
        command = self.command
        if command is None:
            return
        if not isinstance(command, list):
            raise SweepError(f"must be a list of words, got {_plain(command)!r}",
                             file=self.file, key="command",
                             fix="delete it: the sweeper launches the runs")
        dropped: list[str] = []
        words = [str(_plain(w)) for w in command]
        i = 0
        while i < len(words):
            i = self._command_word(words, i, dropped)
        if dropped:
            self.changes.append(
                "command: not needed (the sweeper launches each run through Hydra); dropped "
                + ", ".join(dropped)
            )

    def _command_word(self, words: list[str], i: int, dropped: list[str]) -> int:
        """Handle ``words[i]``; returns the index of the next word."""
        word = words[i]
        if word in ("--config-name", "-cn", "--config-path", "-cp") and i + 1 < len(words):
            dropped.append(f"{word} {words[i + 1]} (pass it to the sweep command instead)")
            return i + 2
        match = _OVERRIDE.match(word)
        if COMMAND_MACROS.match(word) or word.startswith("-") or match is None:
            dropped.append(repr(word))
            return i + 1
        self._command_override(match.group(2), match.group(3), word)
        return i + 1

    def _command_override(self, path: str, text: str, word: str) -> None:
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError

        if "," in text and not text.startswith(("[", "{", "'", '"')):
            raise SweepError(
                f"{word!r} is a Hydra sweep over several values",
                file=self.file,
                key="command",
                fix=f"write it as a parameter: {path}: {{values: [{text}]}}",
            )
        try:
            # Hydra reads an override's value as YAML does (`True`, `1`, `[1, 2]`, `null`)
            value = YAML(typ="safe", pure=True).load(text) if text else ""
        except YAMLError:
            value = text
        parts = path.split(".")
        node = self.sweep
        for j in range(len(parts) - 1):
            node = self._child_map(node, parts[j], where="sweep." + ".".join(parts[: j + 1]))
        self._merge(node, parts[-1], value, None, where=f"sweep.{path}")
        self.structural = True
        self.changes.append(f"command: {word} -> fixed override sweep.{path}: {_plain(value)!r}")

    def _move_root_key(self, key: str) -> None:
        value, comment = _pop(self.root, key, header=True)
        self.structural = True
        self.found.add("root-overrides")
        value = self._pinned(value, key)
        marker = parse_marker(value, key=key, file=self.file) if isinstance(value, str) else None
        if marker is not None:
            self._add_marker(key, marker, f"{key}: {value.strip()}", comment)
            return
        if isinstance(value, Mapping) and _is_carbs_block(value):
            self._add_marker(
                key, self._block_marker(value, key), key, _block_comment(value, comment), block=True
            )
            return
        if isinstance(value, Mapping) and _is_param_leaf(value):
            self._loose_param(str(key), value, str(key), comment)
            return
        if key == "seed":
            # The run's seed, not the search's: `sweep.seed` would seed the method instead.
            self._add_constant_param(key, value, "seed: kept as the parameter seed: {value: ...}")
            return
        if isinstance(value, Mapping):
            first = len(self.params)
            self._extract(value, key, where=key)
            if not len(value):
                self._carry_lead(comment, first)
                return  # it held only markers, now parameters
        elif isinstance(value, list):
            self._refuse_list_markers(value, key)
        _shift_comments(value, 2)  # one level deeper now, under `sweep:`
        self._merge(self.sweep, key, value, comment, where=f"sweep.{key}")
        note = f"{key}: root-level overrides moved under sweep.{key}"
        if key not in CONFIG_GROUPS:
            note += " (not a config group; validate checks the path)"
        self.changes.append(note)

    def _markers_in_sweep_groups(self) -> None:
        for key in [k for k in self.sweep if k not in SETTINGS]:
            value, here = self.sweep[key], f"sweep.{key}"
            if isinstance(value, Mapping) and _is_param_leaf(value):
                _, comment = _pop(self.sweep, key)
                self._loose_param(str(key), value, here, comment)
            elif isinstance(value, Mapping):
                first = len(self.params)
                self._extract(value, key, where=here)
                if not len(value):
                    self._carry_lead(_pop(self.sweep, key)[1], first)
            elif isinstance(value, list):
                self._refuse_list_markers(value, here)
            elif (pinned := self._pinned(value, here)) is not value:
                self.sweep[key] = pinned
            elif isinstance(value, str) and (
                marker := parse_marker(value, key=here, file=self.file)
            ):
                _, comment = _pop(self.sweep, key)
                self._add_marker(key, marker, f"{here}: {value.strip()}", comment)

    # -- parameters --------------------------------------------------------------------------

    def _existing_params(self) -> Any:
        """``sweep.parameters``, its legacy leaves converted in place (both nested forms stay)."""
        params = self.sweep.get("parameters")
        if params is None:
            return _new_map()
        if not isinstance(params, Mapping):
            raise SweepError(
                "parameters must be a mapping of paths to distributions",
                file=self.file,
                key="sweep.parameters",
            )
        self._convert_in_place(params, "", where="sweep.parameters")
        return params

    def _convert_in_place(self, node: Any, prefix: str, *, where: str) -> None:
        """Replace markers and CARBS blocks by parameters at the same place in ``node``."""
        for key in list(node):
            value, here = node[key], f"{where}.{key}"
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, str) and (pinned := self._pinned(value, here)) is not value:
                node[key] = _new_map({"value": pinned}, flow=True)
            elif isinstance(value, str):
                marker = parse_marker(value, key=here, file=self.file)
                if marker is not None:
                    node[key] = self._marker_param(path, marker, f"{here}: {value.strip()}")
            elif isinstance(value, Mapping) and _is_nested_block(value):
                self._convert_in_place(value["parameters"], path, where=f"{here}.parameters")
            elif isinstance(value, Mapping) and _is_carbs_block(value):
                marker = self._block_marker(value, here)
                comment = _block_comment(value, node.ca.items.get(key))
                node[key] = self._marker_param(path, marker, here, block=True)
                if comment:
                    node.ca.items[key] = comment
            elif isinstance(value, Mapping) and not _is_spec(value):
                self._convert_in_place(value, path, where=here)

    def _root_parameters(self) -> None:
        if "parameters" not in self.root:
            return
        params, comment = _pop(self.root, "parameters", header=True)
        self.params_comment = comment
        self.structural = True
        self.found.add("root-overrides")
        if not isinstance(params, Mapping):
            raise SweepError(
                "parameters must be a mapping of paths to distributions",
                file=self.file,
                key="parameters",
            )
        self._flatten(params, "", self.params, where="parameters", depth=2)
        self.changes.append("parameters: moved under sweep.parameters")

    def _flatten(
        self, node: Mapping[str, Any], prefix: str, dst: Any, *, where: str, depth: int
    ) -> None:
        """Copy a parameters tree into ``dst`` with dotted keys, converting legacy leaves.

        ``depth`` is the nesting level of ``node``'s keys in the file (comments re-indent by it).
        """
        first = len(dst)
        lead = _take_leading(node, list(node), 0) if len(node) else ""
        self._flatten_items(node, prefix, dst, where=where, depth=depth)
        if lead and len(dst) > first:
            _place_leading(dst, list(dst)[first], lead)

    def _flatten_items(
        self, node: Mapping[str, Any], prefix: str, dst: Any, *, where: str, depth: int
    ) -> None:
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            comment = node.ca.items.get(key) if hasattr(node, "ca") else None
            here = f"{where}.{key}"
            if isinstance(value, Mapping):
                self._flatten_mapping(value, path, dst, here, comment, depth=depth)
            elif (pinned := self._pinned(value, here)) is not value:
                self._add_constant(path, pinned, f"{here}: constant {pinned!r}", comment)
            elif isinstance(value, str) and (
                marker := parse_marker(value, key=here, file=self.file)
            ):
                self._add_marker(path, marker, f"{here}: {value.strip()}", comment, dst)
            elif isinstance(value, list):
                raise SweepError(
                    "a parameter needs a distribution, not a bare list",
                    file=self.file,
                    key=here,
                    fix=f"write {{values: {_plain(value)}}} to sweep over these values",
                )
            else:
                self._add_constant(path, value, f"{here}: constant {_plain(value)!r}", comment)

    def _flatten_mapping(
        self, value: Any, path: str, dst: Any, here: str, comment: Any, *, depth: int
    ) -> None:
        if _is_nested_block(value):
            self.found.add("wandb")
            self._note_flatten(here, path)
            self._flatten(
                value["parameters"], path, dst, where=f"{here}.parameters", depth=depth + 2
            )
        elif _is_carbs_block(value):
            marker = self._block_marker(value, here)
            self._add_marker(path, marker, here, _block_comment(value, comment), dst, block=True)
        elif _is_constant(value):
            inner = value.ca.items.get("value") if hasattr(value, "ca") else None
            self._add_constant(path, value["value"], f"{here}: constant", inner or comment, dst)
        elif _is_spec(value) or not len(value):
            if depth != 3:
                self.structural = True
            # Now at sweep.parameters.PATH: two spaces per level it moved (2-space indents).
            by = 2 * (3 - depth)
            _shift_comments(value, by)
            self._put_param(dst, path, value, _shift_tokens(comment, by), where=here)
        else:
            self._note_flatten(here, path)
            self._flatten(value, path, dst, where=here, depth=depth + 1)

    def _note_flatten(self, where: str, path: str) -> None:
        self.structural = True
        note = f"{where}: nested parameters flattened to dotted paths ({path}.*)"
        if note not in self.changes:
            self.changes.append(note)

    def _add_marker(
        self,
        path: str,
        marker: Marker,
        source: str,
        comment: Any,
        dst: Any = None,
        *,
        block: bool = False,
    ) -> None:
        param = self._marker_param(path, marker, source, block=block)
        self._put_param(self.params if dst is None else dst, path, param, comment, where=source)

    def _marker_param(
        self, path: str, marker: Marker, source: str, *, block: bool = False
    ) -> Any:
        """The flow-style parameter for ``marker``, with its line in the list of changes."""
        param = _new_map(marker.to_param(), flow=True)
        self.found.add("carbs-params" if block else "carbs")
        self.structural = True
        what = f"{source}: CARBS block" if block else source
        if isinstance(marker, ChoiceMarker):
            param["values"] = _new_list(param["values"])
            self.changes.append(f"{what} -> sweep.parameters.{path}: values {list(marker.values)}")
            return param
        note = (
            f"{what} -> sweep.parameters.{path}: {param['distribution']} "
            f"[{param['min']}, {param['max']}], mean {param['mean']}, scale {param['scale']}"
        )
        if marker.clamped:
            note += f" (logit bounds [{marker.min}, {marker.max}] moved inside (0, 1))"
        self.changes.append(note)
        return param

    def _block_marker(self, block: Mapping[str, Any], where: str) -> Marker:
        unknown = sorted(str(k) for k in set(block) - CARBS_BLOCK_KEYS)
        if unknown:
            raise SweepError(
                f"unknown keys {unknown} in a CARBS parameter block",
                file=self.file,
                key=where,
                fix=f"a CARBS block holds {', '.join(sorted(CARBS_BLOCK_KEYS))}",
            )
        if "is_integer" in block:  # CARBS's own spelling (LinearSpace(is_integer=True))
            block = {**block, "is_int": block["is_integer"]}
        rounding = block.get("rounding_factor", 1)
        if rounding != 1:
            raise SweepError(
                f"rounding_factor {_plain(rounding)} (multiples of it) has no centred "
                "nested-sweeper equivalent",
                file=self.file,
                key=f"{where}.rounding_factor",
                fix=f"write {{distribution: q_uniform, min: MIN, max: MAX, q: {_plain(rounding)}}}"
                " (no centre), or drop rounding_factor",
            )
        space = self._block_space(block, where)
        args = [space, block["min"], block["max"]]
        if block.get("search_center") is not None:
            args.append(block["search_center"])
        marker = marker_from_args(*args, key=where, file=self.file)
        if block.get("scale") is not None:
            try:
                marker = replace(marker, scale=block["scale"])
            except SweepError as error:
                raise error.located(file=self.file, key_prefix=f"{where}.scale") from None
        return marker

    def _block_space(self, block: Mapping[str, Any], where: str) -> str:
        """The marker kind of a CARBS block: its ``space`` with ``is_pow2``/``is_int`` applied."""
        space = str(block["space"])
        if space not in CARBS_SPACES:
            raise SweepError(
                f"unknown CARBS space {space!r}",
                file=self.file,
                key=f"{where}.space",
                fix=f"space is one of {', '.join(CARBS_SPACES)}",
            )
        if block.get("is_pow2") and space in ("linear", "log", "pow2"):
            space = "pow2"  # CARBS rounds to powers of two: the pow2 kind, on a log scale
        elif block.get("is_pow2"):
            raise SweepError(
                f"is_pow2 with space {space} has no nested-sweeper equivalent",
                file=self.file,
                key=f"{where}.is_pow2",
                fix="use space: pow2 (or log with is_pow2) and power-of-two bounds",
            )
        if block.get("is_int") and space == "linear":
            space = "int"
        elif block.get("is_int") and space not in ("int", "pow2"):
            raise SweepError(
                f"is_int with space {space} has no nested-sweeper equivalent",
                file=self.file,
                key=f"{where}.is_int",
                fix="drop is_int to search it as floats (log_normal, centre kept), write "
                "{distribution: q_log_uniform_values, min: MIN, max: MAX, q: 1} for integers "
                "(no centre), or space: pow2 for powers of two",
            )
        return space

    def _put_param(self, dst: Any, path: str, value: Any, comment: Any, *, where: str) -> None:
        if path in dst:
            if _plain(dst[path]) == _plain(value):
                return
            raise SweepError(
                f"parameter {path} is defined twice with different distributions",
                file=self.file,
                key=where,
                fix="keep one of them",
            )
        dst[path] = value
        _store_comment(dst, path, comment)

    def _add_constant(
        self, path: str, value: Any, note: str, comment: Any, dst: Any = None
    ) -> None:
        """A constant from a parameters tree: a fixed override under ``sweep.<group>``."""
        parts = path.split(".")
        if parts[0] in SETTINGS or parts[0] in ROOT_KEYS:
            # `sweep.seed` etc. are settings of the search, so the run's value stays a parameter.
            self._add_constant_param(path, value, f"{note} -> kept as {{value: ...}}", dst)
            return
        self.structural = True
        node = self.sweep
        for i in range(len(parts) - 1):
            node = self._child_map(node, parts[i], where="sweep." + ".".join(parts[: i + 1]))
        self._merge(node, parts[-1], value, comment, where=f"sweep.{path}")
        self.changes.append(f"{note} -> fixed override sweep.{path}")

    def _add_constant_param(self, path: str, value: Any, note: str, dst: Any = None) -> None:
        self.structural = True
        param = _new_map({"value": value}, flow=True)
        self._put_param(self.params if dst is None else dst, path, param, None, where=path)
        self.changes.append(note)

    def _child_map(self, node: Any, key: str, *, where: str) -> Any:
        if key not in node:
            node.insert(len(node), key, _new_map())
        if not isinstance(node[key], Mapping):
            raise SweepError(
                "is both a fixed value and a group of fixed values", file=self.file, key=where
            )
        return node[key]

    def _place_params(self) -> None:
        if not len(self.params) or "parameters" in self.sweep:
            return  # none, or the existing node (edited in place)
        self.sweep.insert(_setting_pos(self.sweep, "parameters"), "parameters", self.params)
        _store_comment(self.sweep, "parameters", self.params_comment)

    # -- parameter leaves: Protein spellings, and refusals of what would not parse -----------

    def _check_params(self, node: Any, prefix: str, *, where: str) -> None:
        """Walk every parameter (both nested forms) and make its leaf parse as written."""
        for key in list(node):
            value, here = node[key], f"{where}.{key}"
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, Mapping) and _is_nested_block(value):
                self._check_params(value["parameters"], path, where=f"{here}.parameters")
            elif isinstance(value, Mapping) and _is_spec(value):
                self._check_leaf(value, here)
            elif isinstance(value, Mapping) and len(value):
                self._check_params(value, path, where=here)

    def _check_leaf(self, leaf: Any, where: str) -> None:
        if "search_center" in leaf or "space" in leaf:
            raise SweepError(
                "a CARBS block needs space, min and max (it has "
                f"{', '.join(sorted(str(k) for k in leaf))})",
                file=self.file,
                key=where,
                fix="add space: linear|log|logit|pow2 and min/max, or write a Protein "
                "parameter {distribution: ..., min, max, mean: CENTRE}",
            )
        if isinstance(leaf.get("values"), str):
            raise SweepError(
                f"values must be a list, got the string {leaf['values']!r}",
                file=self.file,
                key=f"{where}.values",
                fix=f"write values: [{leaf['values']}] (or value: {leaf['values']} for a constant)",
            )
        kind = leaf.get("distribution")
        if kind == "normal" and ("min" in leaf or "max" in leaf):
            raise SweepError(
                "normal takes mu and sigma, not min/max",
                file=self.file,
                key=f"{where}.distribution",
                fix="use {distribution: normal, mu: M, sigma: S}, or uniform with mean: and "
                "scale: for a bell between min and max",
            )
        if "mean" in leaf or "scale" in leaf:
            self.found.add("protein")
        self._protein_scale(leaf, where)
        self._snap_mean(leaf, where)
        if kind == "logit_normal":
            self._clamp_logit(leaf, where)
        if kind == "uniform_pow2":
            self._check_pow2(leaf, where)

    def _protein_scale(self, leaf: Any, where: str) -> None:
        """Protein's ``scale: auto`` (0.5) and ``scale: time`` (log_normal only) as numbers."""
        scale = leaf.get("scale")
        if not isinstance(scale, str):
            return
        if scale == "auto":
            value = 0.5
        elif scale == "time" and leaf.get("distribution") == "log_normal" and \
                _positive_pair(leaf.get("min"), leaf.get("max")):
            # PufferLib's Log space: one unit per doubling from min to max
            value = float(f"{1.0 / math.log2(leaf['max'] / leaf['min']):.10g}")
        else:
            raise SweepError(
                f"scale {scale!r} is not a number",
                file=self.file,
                key=f"{where}.scale",
                fix="write a width > 0 such as scale: 0.5 (Protein reads 'auto' as 0.5, and "
                "'time' only for log_normal with positive min/max)",
            )
        leaf["scale"] = value
        self.structural = True
        self.changes.append(f"{where}.scale: {scale} -> {value} (Protein's value for {scale!r})")

    def _snap_mean(self, leaf: Any, where: str) -> None:
        """A mean outside its bounds by float noise only (PufferLib writes 0.5999999999999999
        for a min of 0.6) is the bound itself; a real miss is left to the parser's error."""
        lo, hi, mean = leaf.get("min"), leaf.get("max"), leaf.get("mean")
        if not (_number_pair(lo, hi) and _number_pair(mean, mean)) or lo <= mean <= hi:
            return
        tol = 1e-9 * max(abs(lo), abs(hi), abs(hi - lo))
        bound = lo if mean < lo else hi
        if abs(mean - bound) <= tol:
            leaf["mean"] = bound
            self.structural = True
            self.changes.append(f"{where}.mean: {mean!r} -> {bound} (float noise past the bound)")

    def _clamp_logit(self, leaf: Any, where: str) -> None:
        """Bounds on 0 or 1 are pulled inside, written out so the file parses cleanly."""
        lo, hi = leaf.get("min"), leaf.get("max")
        if not _number_pair(lo, hi) or not 0.0 <= lo < hi <= 1.0:
            return  # the parser's own error names it
        clo, chi = max(float(lo), LOGIT_EPS), min(float(hi), 1.0 - LOGIT_EPS)
        if (clo, chi) == (lo, hi):
            return
        leaf["min"], leaf["max"] = (lo if clo == lo else clo), (hi if chi == hi else chi)
        mean = leaf.get("mean")
        if _number_pair(mean, mean) and not clo <= mean <= chi:
            leaf["mean"] = min(max(float(mean), clo), chi)
        self.structural = True
        self.changes.append(
            f"{where}: logit bounds [{lo}, {hi}] -> [{leaf['min']}, {leaf['max']}] "
            "(logit is infinite at 0 and 1)"
        )

    def _check_pow2(self, leaf: Any, where: str) -> None:
        """Bounds that look like exponents (``min: 0``, or ``15..19``: no power of two at either
        end of a small range) are refused; other bounds round inward as Protein rounds them,
        and a mean between powers of two is a centre in log2 space, as in Protein."""
        lo, hi, mean = leaf.get("min"), leaf.get("max"), leaf.get("mean")
        if not _number_pair(lo, hi):
            return
        exponent_like = hi <= 64 and not (_is_pow2(lo) or _is_pow2(hi))
        if lo > 0 and not exponent_like:
            return
        if 0 <= lo < hi <= 62 and all(float(v).is_integer() for v in (lo, hi)):
            centre = f", mean: {2 ** int(mean)}" if _number_pair(mean, mean) and \
                float(mean).is_integer() else ""
            fix = f"if these are exponents write min: {2 ** int(lo)}, max: {2 ** int(hi)}{centre}"
        else:
            fix = "use powers of two for min and max"
        raise SweepError(
            f"uniform_pow2 bounds [{lo}, {hi}] look like exponents, not powers of two",
            file=self.file,
            key=where,
            fix=fix,
        )

    # -- override trees ----------------------------------------------------------------------

    def _extract(self, node: Any, prefix: str, *, where: str) -> None:
        """Turn markers and CARBS blocks inside an override tree into parameters (in place)."""
        for key in list(node):
            value = node[key]
            path, here = f"{prefix}.{key}", f"{where}.{key}"
            if isinstance(value, str) and (pinned := self._pinned(value, here)) is not value:
                node[key] = pinned
            elif isinstance(value, str):
                marker = parse_marker(value, key=here, file=self.file)
                if marker is not None:
                    _, comment = _pop(node, key)
                    self._add_marker(path, marker, f"{here}: {value.strip()}", comment)
            elif isinstance(value, Mapping) and _is_carbs_block(value):
                _, comment = _pop(node, key)
                self._add_marker(
                    path,
                    self._block_marker(value, here),
                    here,
                    _block_comment(value, comment),
                    block=True,
                )
            elif isinstance(value, Mapping) and _is_param_leaf(value):
                _, comment = _pop(node, key)
                self._loose_param(path, value, here, comment)
            elif isinstance(value, Mapping):
                first = len(self.params)
                self._extract(value, path, where=here)
                if not len(value):
                    self._carry_lead(_pop(node, key)[1], first)
            elif isinstance(value, list):
                self._refuse_list_markers(value, here)

    def _carry_lead(self, comment: Any, first: int) -> None:
        """The lines above a group that emptied (all its keys became parameters) go above the
        first of those parameters."""
        lead = comment[1] if comment and len(comment) > 1 else None
        if isinstance(lead, str) and lead.strip() and len(self.params) > first:
            _place_leading(self.params, list(self.params)[first], lead)

    def _pinned(self, value: Any, where: str) -> Any:
        """A one-point marker's value (a fixed value, noted), else ``value`` itself."""
        number = fixed_marker_value(value)
        if number is None:
            return value
        self.structural = True
        self.changes.append(
            f"{where}: {value.strip()} has min == max: the fixed value {number}, not a search"
        )
        return number

    def _loose_param(self, path: str, value: Any, where: str, comment: Any) -> None:
        """A distribution outside ``parameters:`` (Metta 2025): a parameter at its path."""
        # its keys sat one level below `where`; under sweep.parameters.PATH they sit at 6
        by = 6 - 2 * len(where.split("."))
        _shift_comments(value, by)
        self._put_param(self.params, path, value, _shift_tokens(comment, by), where=where)
        self.structural = True
        self.changes.append(
            f"{where}: a distribution outside parameters: -> sweep.parameters.{path}"
        )

    def _refuse_list_markers(self, items: list[Any], where: str) -> None:
        for i, item in enumerate(items):
            if isinstance(item, str) and parse_marker(item, key=f"{where}.{i}", file=self.file):
                raise SweepError(
                    "a CARBS marker inside a list cannot become a parameter",
                    file=self.file,
                    key=f"{where}.{i}",
                    fix="sweep the whole list with {values: [[...], [...]]}",
                )

    def _merge(self, dst: Any, key: str, value: Any, comment: Any, *, where: str) -> None:
        if key not in dst:
            dst.insert(len(dst), key, value)
            _store_comment(dst, key, comment)
            return
        old = dst[key]
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            subs = list(value)
            for sub in subs:
                sub_comment = value.ca.items.get(sub) if hasattr(value, "ca") else None
                self._merge(old, sub, value[sub], sub_comment, where=f"{where}.{sub}")
            lead = comment[1] if comment and len(comment) > 1 else None
            if isinstance(lead, str) and lead.strip() and subs and subs[0] in old:
                _place_leading(old, subs[0], lead)  # the lines above the merged group
            return
        if _plain(old) != _plain(value):
            raise SweepError(
                f"set twice, to {_plain(old)!r} and to {_plain(value)!r}",
                file=self.file,
                key=where,
                fix="keep one value",
            )

    def _check_disjoint(self) -> None:
        """A path cannot be both swept and fixed: the fixed override would hide the search."""
        fixed: set[str] = set()
        for key in self.sweep:
            if key not in SETTINGS:
                fixed.update(_paths(self.sweep[key], str(key)))
        for path in _param_paths(self.params, ""):
            for other in sorted(fixed):
                if other == path or other.startswith(f"{path}.") or path.startswith(f"{other}."):
                    raise SweepError(
                        f"{path} is both a parameter and a fixed override (sweep.{other})",
                        file=self.file,
                        key=f"sweep.parameters.{path}",
                        fix="remove one of them",
                    )


# --- helpers ---------------------------------------------------------------------------------


def _yaml() -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.representer import RoundTripRepresenter

    class _Representer(RoundTripRepresenter):
        pass

    def float_repr(representer: Any, data: float) -> Any:
        # `1e-05` is a string to YAML 1.1 readers (PyYAML); `1.0e-05` is a float to all.
        text = repr(float(data))
        if "e" in text and "." not in text.split("e")[0]:
            text = text.replace("e", ".0e", 1)
        if text in ("inf", "-inf", "nan"):
            text = {"inf": ".inf", "-inf": "-.inf", "nan": ".nan"}[text]
        return representer.represent_scalar("tag:yaml.org,2002:float", text)

    _Representer.add_representer(float, float_repr)
    yaml = YAML()
    yaml.Representer = _Representer
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # one parameter per line, however long
    yaml.preserve_quotes = True
    return yaml


def _load(yaml: Any, text: str, file: str) -> Any:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        root = yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "invalid YAML"
        raise SweepError(
            f"invalid YAML{where}: {problem}", file=file, fix="fix the YAML syntax"
        ) from None
    except YAMLError as error:
        raise SweepError(f"invalid YAML: {error}", file=file) from None
    if root is None:
        raise SweepError("the file is empty", file=file, fix="nothing to migrate")
    if not isinstance(root, Mapping):
        raise SweepError(
            f"a sweep file is a mapping, got {type(root).__name__}",
            file=file,
            fix="start the file with `sweep:`",
        )
    return root


def _header_lines(text: str, file: str) -> tuple[list[str], bool]:
    """The leading comment lines except the package line, and whether it was `_global_`."""
    header: list[str] = []
    has_package = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        match = _PACKAGE.match(stripped)
        if match is None:
            header.append(line.rstrip())
        elif match.group(1) != "_global_":
            raise SweepError(
                f"'# @package {match.group(1)}' cannot be migrated",
                file=file,
                fix=f"sweep files use '{_HEADER}'; move the keys to their full paths first",
            )
        else:
            has_package = True
    while header and not header[0]:
        header.pop(0)
    return header, has_package


def _new_map(items: Mapping[str, Any] | None = None, *, flow: bool = False) -> Any:
    from ruamel.yaml.comments import CommentedMap

    node = CommentedMap(items or {})
    if flow:
        node.fa.set_flow_style()
    return node


def _new_list(items: list[Any]) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _pop(node: Any, key: str, *, header: bool = False) -> tuple[Any, Any]:
    """Remove ``key`` and return its value with its comments.

    ruamel stores full-line comments with the entry *above* them (its deepest last scalar,
    or the mapping's own comment before its first key). Lines above ``key`` describe it, so
    they travel with it (returned in slot 1 as text, placed by :func:`_place_leading`);
    lines below its value describe what follows, so they stay where ``key`` was. ``header``
    is True for the root, whose lines above its first key are the file's header.
    """
    keys = list(node)
    i = keys.index(key)
    lead = "" if header and i == 0 else _take_leading(node, keys, i)
    comment = node.ca.items.get(key) if hasattr(node, "ca") else None
    value = node[key]
    del node[key]
    holder, hkey = _deepest(value)
    if holder is not None:  # a block mapping: its last scalar holds the lines below it
        _leave_behind(node, keys, key, holder, hkey)
    moved = list(comment) if comment else [None, None, None, None]
    if len(moved) > 1 and isinstance(moved[1], list):
        # ruamel's own "lines above this key" slot (before a flow-style value): same meaning
        lead = "".join(t.value for t in _tokens(moved[1])) + lead
    if comment and len(comment) > 2 and comment[2] is not None:
        token = comment[2]
        eol, _, rest = token.value.partition("\n")
        if rest.strip() and not _place_rest(node, keys, key, rest):
            return value, _with_lead(comment, lead)  # nowhere better: they move with the key
        moved[2] = _token_like(token, eol + "\n") if eol.strip() else None
    return value, _with_lead(moved, lead)


def _lift_leading(node: Any) -> None:
    """ruamel keeps the lines above a nested mapping's first key on the parent's entry; move
    them onto the mapping itself (``ca.comment[1]``, as at the root) so they follow its keys."""
    for key, child in node.items():
        if isinstance(child, Mapping) and hasattr(child, "ca"):
            item = node.ca.items.get(key)
            if item and len(item) > 3 and item[3]:
                old = child.ca.comment or [None, None]
                child.ca.comment = [old[0], item[3]]
                item[3] = None
            _lift_leading(child)


def _lower_leading(node: Any) -> None:
    """The inverse of :func:`_lift_leading`, before dumping (the emitter reads the parent's)."""
    for key, child in node.items():
        if isinstance(child, Mapping) and hasattr(child, "ca"):
            _lower_leading(child)
            old = child.ca.comment
            if old and len(old) > 1 and old[1]:
                item = node.ca.items.setdefault(key, [None, None, None, None])
                item[3] = old[1]
                child.ca.comment = [old[0], None]


def _store_comment(dst: Any, key: Any, comment: Any) -> None:
    """Attach a comment from :func:`_pop` to ``dst[key]``: its end-of-line part on the entry,
    the lines that were above it just above it again."""
    if not comment:
        return
    item = list(comment) + [None] * (4 - len(comment))
    lead = item[1]
    if not isinstance(lead, list):  # ruamel's own token list stays; text is placed below
        item[1] = None
    if any(item):
        dst.ca.items[key] = item
    if isinstance(lead, str) and lead.strip():
        _place_leading(dst, key, lead)


def _with_lead(comment: Any, lead: str) -> Any:
    moved = list(comment) + [None] * (4 - len(comment))
    moved[1] = lead or None
    return moved if any(moved) else None


def _take_leading(node: Any, keys: list[Any], i: int) -> str:
    """The full-line comments just above ``keys[i]``, removed from where ruamel keeps them."""
    if not hasattr(node, "ca"):
        return ""
    if i == 0:
        current = node.ca.comment
        if not current or len(current) < 2 or not current[1]:
            return ""
        text = "".join(t.value for t in _tokens(current[1]))
        node.ca.comment = [current[0], None]
        return text if text.strip() else ""
    holder, hkey = _deepest(node[keys[i - 1]])
    if holder is None:
        holder, hkey = node, keys[i - 1]
    item = holder.ca.items.get(hkey)
    if not item or len(item) < 3 or item[2] is None:
        return ""
    eol, _, rest = item[2].value.partition("\n")
    if not rest.strip():
        return ""
    item[2] = _token_like(item[2], eol + "\n") if eol.strip() else None
    return rest


def _deepest(value: Any) -> tuple[Any, Any]:
    """The block mapping and key of the last scalar under ``value`` (None: not a block map)."""
    holder, key = None, None
    while isinstance(value, Mapping) and len(value) and hasattr(value, "ca") \
            and not value.fa.flow_style():
        holder, key = value, list(value)[-1]
        value = value[key]
    return holder, key


def _leave_behind(node: Any, keys: list[Any], key: Any, holder: Any, hkey: Any) -> None:
    item = holder.ca.items.get(hkey)
    if not item or len(item) < 3 or item[2] is None:
        return
    eol, _, rest = item[2].value.partition("\n")
    if rest.strip() and _place_rest(node, keys, key, rest):
        item[2] = _token_like(item[2], eol + "\n") if eol.strip() else None


def _place_rest(node: Any, keys: list[Any], key: Any, rest: str) -> bool:
    """Put the lines that followed ``key`` where it was: after its predecessor, else before
    its successor (then the first key)."""
    i = keys.index(key)
    if i > 0:
        return _append_trailing(node, keys[i - 1], rest)
    return len(keys) > 1 and _prepend_comment(node, rest)


def _place_leading(dst: Any, key: Any, text: str) -> None:
    """Comment lines ``text`` just above ``dst[key]``."""
    keys = list(dst)
    i = keys.index(key)
    if i > 0 and _append_trailing(dst, keys[i - 1], text):
        return
    if i == 0:
        _prepend_comment(dst, text)


def _append_trailing(node: Any, key: Any, rest: str) -> bool:
    """Put comment lines ``rest`` after the last scalar under ``node[key]``; False if none."""
    holder, hkey = _deepest(node.get(key))
    if holder is not None:
        node, key = holder, hkey
    if isinstance(node.get(key), list) or not hasattr(node, "ca"):
        return False
    item = node.ca.items.setdefault(key, [None, None, None, None])
    old = item[2]
    if old is None:
        item[2] = _token_like(None, "\n" + rest)
    else:
        item[2] = _token_like(old, old.value + rest)
    return True


def _prepend_comment(node: Any, rest: str) -> bool:
    """Put comment lines ``rest`` before the first key of ``node``."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    tokens = []
    for line in rest.splitlines():
        text = line.lstrip()
        if text:
            tokens.append(CommentToken(text + "\n", CommentMark(len(line) - len(text)), None))
    if not tokens:
        return False
    current = node.ca.comment or [None, None]
    node.ca.comment = [current[0], [*(current[1] or []), *tokens]]
    return True


def _shift_comments(node: Any, by: int) -> None:
    """Indent the comments inside ``node`` by ``by`` columns (the node moved levels)."""
    if not by or not hasattr(node, "ca"):
        return
    ca = node.ca
    ca.comment = _shift_tokens(ca.comment, by)
    for key in list(ca.items):
        ca.items[key] = _shift_tokens(ca.items[key], by)
    children = node.values() if isinstance(node, Mapping) else node
    for child in children:
        _shift_comments(child, by)


def _shift_tokens(item: Any, by: int) -> Any:
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    if isinstance(item, list):
        return [_shift_tokens(x, by) for x in item]
    if not isinstance(item, CommentToken) or item.start_mark is None:
        return item
    # Full-line comments after an end-of-line one sit in the same token, indented by spaces.
    value = re.sub(r"\n( *)#", lambda m: "\n" + " " * max(len(m[1]) + by, 0) + "#", item.value)
    return CommentToken(value, CommentMark(max(item.start_mark.column + by, 0)), None)


def _block_comment(block: Any, comment: Any) -> Any:
    """The comment for a CARBS block's one-line replacement: the end-of-line comments of its
    lines joined on that line, its full-line comments (a commented-out block below it) kept
    as lines below it, and the lines above it above it."""
    eols: list[str] = []
    lines: list[str] = []
    lead = comment[1] if comment and len(comment) > 1 and isinstance(comment[1], str) else None
    for item in [comment, *(block.ca.items.values() if hasattr(block, "ca") else [])]:
        for token in _tokens(item):
            first, _, rest = token.value.partition("\n")
            if first.strip():
                eols.append(first.strip())
            lines.extend(line for line in rest.splitlines() if line.strip())
    if not eols and not lines:
        return comment
    value = ("  ".join(eols) if eols else "") + "\n" + "".join(f"{line}\n" for line in lines)
    return [None, lead, _token_like(None, value), None]


def _indent_comments(text: str) -> str:
    """Full-line comments indented like the line they stand above, as a person writes them
    (a comment that moved levels with its key keeps its old column otherwise)."""
    lines = text.split("\n")
    target = None
    for i in range(len(lines) - 1, -1, -1):
        stripped = lines[i].lstrip()
        if stripped.startswith("#"):
            if target is not None:
                lines[i] = " " * target + stripped
        elif stripped:
            target = len(lines[i]) - len(stripped)
            # a comment after a written flow mapping: two spaces before `#`, as elsewhere
            lines[i] = re.sub(r"\} #(?= )", "}  #", lines[i])
    return "\n".join(lines)


def _tokens(item: Any) -> list[Any]:
    from ruamel.yaml.tokens import CommentToken

    if isinstance(item, CommentToken):
        return [item]
    if isinstance(item, list):
        return [t for x in item for t in _tokens(x)]
    return []


def _token_like(token: Any, value: str) -> Any:
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    if token is not None:
        return CommentToken(value, token.start_mark, token.end_mark)
    return CommentToken(value, CommentMark(0), None)


def _setting_pos(sweep: Any, key: str) -> int:
    """Where ``key`` goes among the settings at the top of ``sweep`` (in SETTINGS order)."""
    order = SETTINGS.index(key)
    return sum(1 for k in sweep if k in SETTINGS and SETTINGS.index(k) < order)


def _number_pair(a: Any, b: Any) -> bool:
    return all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in (a, b)
    )


def _is_pow2(v: Any) -> bool:
    return v > 0 and float(v).is_integer() and (int(v) & (int(v) - 1)) == 0


def _positive_pair(a: Any, b: Any) -> bool:
    return _number_pair(a, b) and 0 < a < b


def _is_wandb_metric(metric: Any) -> bool:
    return isinstance(metric, Mapping) and "name" in metric


def _is_spec(value: Mapping[str, Any]) -> bool:
    # `when: {path: value}` (a condition) is the one mapping a parameter may hold.
    nested = any(isinstance(v, Mapping) for k, v in value.items() if k != "when")
    return bool(set(value) & SPEC_KEYS) and not nested


def _is_param_leaf(value: Mapping[str, Any]) -> bool:
    """A distribution wherever it sits: ``distribution``, ``min`` + ``max`` or ``values``.

    ``values`` counts only as a list or a bare string (refused later with the fix), and
    nothing nested but a ``when`` condition: a config group never looks like this.
    """
    if any(isinstance(v, Mapping) for k, v in value.items() if k != "when"):
        return False
    if "distribution" in value:
        return True
    # min/max or values alone: only with nothing but parameter keys beside them, so a config
    # group such as {min: 0, max: 10, width: 5} stays a fixed override
    if not set(value) <= SPEC_KEYS:
        return False
    return ("min" in value and "max" in value) or isinstance(value.get("values"), (list, str))


def _has_carbs_block(node: Mapping[str, Any]) -> bool:
    return any(
        isinstance(v, Mapping) and (_is_carbs_block(v) or _has_carbs_block(v))
        for v in node.values()
    )


def _is_carbs_block(value: Mapping[str, Any]) -> bool:
    return "space" in value and "min" in value and "max" in value


def _is_nested_block(value: Mapping[str, Any]) -> bool:
    return "parameters" in value and isinstance(value["parameters"], Mapping)


def _is_constant(value: Mapping[str, Any]) -> bool:
    if "value" not in value:
        return False
    return (
        set(value) <= {"value", "distribution"}
        and value.get("distribution", "constant") == "constant"
    )


def _param_paths(node: Mapping[str, Any], prefix: str) -> list[str]:
    """Dotted paths of a parameters mapping, through both nested forms."""
    paths = []
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and _is_nested_block(value):
            paths.extend(_param_paths(value["parameters"], path))
        elif isinstance(value, Mapping) and len(value) and not _is_spec(value):
            paths.extend(_param_paths(value, path))
        else:
            paths.append(path)
    return paths


def _paths(node: Any, prefix: str) -> list[str]:
    if isinstance(node, Mapping) and len(node):
        return [p for k, v in node.items() for p in _paths(v, f"{prefix}.{k}")]
    return [prefix]


def _plain(value: Any) -> Any:
    """A comment-free plain copy, for comparing and showing values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _report_in_place(path: str, result: Migration, out: TextIO) -> None:
    if not result.changes:
        print(f"{path}: already in the nested format", file=out)
        return
    _write_atomic(path, result.text)
    print(f"{path}: migrated ({result.kind}), {len(result.changes)} changes:", file=out)
    for change in result.changes:
        print(f"  - {change}", file=out)


def _report_printed(path: str, result: Migration, out: TextIO, err: TextIO, *, many: bool) -> None:
    if many:
        print(f"# ==> {path} <==", file=out)
    out.write(result.text if result.text.endswith("\n") else result.text + "\n")
    if not result.changes:
        print(f"{path}: already in the nested format", file=err)
        return
    print(f"{path}: {len(result.changes)} changes ({result.kind}):", file=err)
    for change in result.changes:
        print(f"  - {change}", file=err)


def _write_atomic(path: str, text: str) -> None:
    # A crash mid-write must not leave a half-migrated sweep file behind.
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".migrate-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

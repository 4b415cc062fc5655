"""W&B sweep files: the steps of ``nested-sweep migrate`` that read W&B's own keys.

``program``/``command``/``run_cap``/``project``/``entity`` and the Launch keys at the root,
``metric: {name, goal}``, and the Hydra overrides inside ``command:``. W&B's nested
``parameters:`` blocks are flattened with the other parameter forms in
:mod:`nested_sweeper.migrate.place`, which asks :func:`is_nested_block` here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from nested_sweeper.errors import SweepError
from nested_sweeper.migrate.migrator import Migrator
from nested_sweeper.migrate.yaml_edit import plain, pop, store_comment
from nested_sweeper.schema import DEFAULT_NUM_SAMPLES, DEFAULT_ROLLOUT_COUNT

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
# W&B command-line macros: the sweeper passes each run's values itself.
COMMAND_MACROS = re.compile(r"^\$\{(env|interpreter|program|args|args_no_hyphens|args_json|"
                            r"args_json_file|args_no_boolean_flags)\}$")
_OVERRIDE = re.compile(r"^(\+{0,2})([A-Za-z_][\w.\-]*)=(.*)$")


def is_wandb_file(root: Mapping[str, Any]) -> bool:
    """Whether ``root`` has a key only W&B sweep files have (or W&B's metric mapping)."""
    return any(k in root for k in WANDB_ROOT) or _is_wandb_metric(root.get("metric"))


def root_keys(m: Migrator) -> None:
    """W&B's root keys: dropped with the reason, or mapped (``run_cap``, ``command``)."""
    root = m.root
    if "program" in root:
        m.drop(
            "program",
            "program: not needed (the sweeper launches each run of this Hydra app itself); "
            f"dropped {plain(root['program'])!r}",
        )
    if "command" in root:
        m.command, _ = pop(root, "command", header=True)
        m.structural = True
    _refuse_foreign_search_spaces(m)
    for key, why in WANDB_DROPPED.items():
        if key in root:
            m.drop(key, f"{key}: {plain(root[key])} dropped ({why})")
    for key in ("project", "entity"):
        if key in root:
            value = root[key]
            m.drop(
                key, f"{key}: {value} removed; set wandb.{key}={value} in the wandb config"
            )
    if "run_cap" in root:
        _run_cap(m)
    elif not _has_counts(m):
        # W&B runs until stopped without run_cap; here the spec's defaults decide.
        m.changes.append(
            f"no run_cap: rollout_count defaults to {DEFAULT_ROLLOUT_COUNT} (num_samples "
            f"{DEFAULT_NUM_SAMPLES}: {DEFAULT_ROLLOUT_COUNT * DEFAULT_NUM_SAMPLES} runs in "
            "all); set rollout_count: N to choose the budget"
        )


def _refuse_foreign_search_spaces(m: Migrator) -> None:
    """A search space kept outside ``parameters:`` (Ray Tune, an Optuna scheduler's source)
    cannot be read here; dropping it would leave a sweep that searches nothing."""
    if "tune" in m.root:
        raise SweepError(
            "a Ray Tune search space (tune.search_alg) cannot be migrated",
            file=m.file,
            key="tune",
            fix="write the space as parameters: (hp.choice -> values: [...], "
            "hp.uniform -> {min, max}) and delete tune:",
        )
    scheduler = m.root.get("scheduler")
    if isinstance(scheduler, Mapping) and scheduler.get("settings"):
        raise SweepError(
            "a W&B Launch scheduler's own search settings cannot be migrated",
            file=m.file,
            key="scheduler.settings",
            fix="write the search space as parameters: and pick a method, then delete "
            "scheduler:",
        )


def _has_counts(m: Migrator) -> bool:
    sweep = m.root.get("sweep")
    places = [m.root, sweep if isinstance(sweep, Mapping) else {}]
    return any(k in place for place in places for k in ("rollout_count", "num_samples"))


def _run_cap(m: Migrator) -> None:
    """``run_cap: N`` as ``rollout_count: N`` with ``num_samples: 1``, where it was."""
    root = m.root
    cap = root["run_cap"]
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise SweepError(
            f"run_cap must be a positive integer, got {plain(cap)!r}",
            file=m.file,
            key="run_cap",
            fix="write the number of runs, e.g. run_cap: 20",
        )
    if "rollout_count" in root or "num_samples" in root:
        raise SweepError(
            "run_cap and rollout_count/num_samples are both given",
            file=m.file,
            key="run_cap",
            fix="keep one of them",
        )
    pos = list(root).index("run_cap")
    comment = root.ca.items.get("run_cap")
    m.drop("run_cap", "")
    root.insert(pos, "rollout_count", cap)
    root.insert(pos + 1, "num_samples", 1)
    store_comment(root, "rollout_count", comment)
    m.changes.append(
        f"run_cap: {cap} -> rollout_count: {cap}, num_samples: 1 (runs per round)"
    )


def metric_mapping(m: Migrator, metric: Mapping[str, Any], where: str) -> None:
    """W&B's ``metric: {name, goal}`` as our ``metric`` and ``goal`` settings."""
    if "name" not in metric:
        raise SweepError(
            "metric needs a name", file=m.file, key=where, fix="metric: {name: reward}"
        )
    name, goal = metric["name"], metric.get("goal")
    m.insert_setting("metric", name)
    if goal is None:
        m.changes.append(f"{where}: {{name: {name}}} -> sweep.metric: {name}")
    else:
        m.insert_setting("goal", goal)
        m.changes.append(
            f"{where}: {{name: {name}, goal: {goal}}} -> sweep.metric: {name}, sweep.goal: {goal}"
        )
    for extra in sorted(set(metric) - {"name", "goal"}):
        m.changes.append(
            f"{where}.{extra}: removed (the nested sweeper has no such setting)"
        )


def command_overrides(m: Migrator) -> None:
    """Hydra overrides in ``command:`` become fixed overrides; every other word is named."""
    command = m.command
    if command is None:
        return
    if not isinstance(command, list):
        raise SweepError(f"must be a list of words, got {plain(command)!r}",
                         file=m.file, key="command",
                         fix="delete it: the sweeper launches the runs")
    dropped: list[str] = []
    words = [str(plain(w)) for w in command]
    i = 0
    while i < len(words):
        i = _command_word(m, words, i, dropped)
    if dropped:
        m.changes.append(
            "command: not needed (the sweeper launches each run through Hydra); dropped "
            + ", ".join(dropped)
        )


def _command_word(m: Migrator, words: list[str], i: int, dropped: list[str]) -> int:
    """Handle ``words[i]``; returns the index of the next word."""
    word = words[i]
    if word in ("--config-name", "-cn", "--config-path", "-cp") and i + 1 < len(words):
        dropped.append(f"{word} {words[i + 1]} (pass it to the sweep command instead)")
        return i + 2
    match = _OVERRIDE.match(word)
    if COMMAND_MACROS.match(word) or word.startswith("-") or match is None:
        dropped.append(repr(word))
        return i + 1
    _command_override(m, match.group(2), match.group(3), word)
    return i + 1


def _command_override(m: Migrator, path: str, text: str, word: str) -> None:
    """One Hydra override word of ``command:`` as a fixed override under ``sweep``."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    if "," in text and not text.startswith(("[", "{", "'", '"')):
        raise SweepError(
            f"{word!r} is a Hydra sweep over several values",
            file=m.file,
            key="command",
            fix=f"write it as a parameter: {path}: {{values: [{text}]}}",
        )
    try:
        # Hydra reads an override's value as YAML does (`True`, `1`, `[1, 2]`, `null`)
        value = YAML(typ="safe", pure=True).load(text) if text else ""
    except YAMLError:
        value = text
    parts = path.split(".")
    node = m.sweep
    for j in range(len(parts) - 1):
        node = m.child_map(node, parts[j], where="sweep." + ".".join(parts[: j + 1]))
    m.merge(node, parts[-1], value, None, where=f"sweep.{path}")
    m.structural = True
    m.changes.append(f"command: {word} -> fixed override sweep.{path}: {plain(value)!r}")


def _is_wandb_metric(metric: Any) -> bool:
    return isinstance(metric, Mapping) and "name" in metric


def is_nested_block(value: Mapping[str, Any]) -> bool:
    """W&B's nested form: a config group whose ``parameters:`` holds more parameters."""
    return "parameters" in value and isinstance(value["parameters"], Mapping)


def note_no_metric(m: Migrator) -> None:
    """W&B files name their metric; without one the sweep reads the default, which is said."""
    if "wandb" in m.found and "metric" not in m.sweep:
        m.changes.append(
            "no metric: the sweep reads 'reward' (the default); set sweep.metric to the "
            "name your runs return"
        )

"""The app's own pre-launch check over the search space (``hydra.sweeper.check``).

Only the app knows which combinations its runs accept (the trainer's batch geometry, say).
``hydra.sweeper.check: train.ppo.check_config`` names a function that raises when a composed
config would fail; before the first launch, and in ``nested-sweep validate``, it is called on
the config of sampled points of the space. A space where every sampled point fails is refused
with the app's own message (its keys and fix); one where some fail gets a warning.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from nested_sweeper.errors import SweepError, SweepWarning
from nested_sweeper.search.registry import method_for

# Points drawn from the space's prior, plus its centre: enough to tell "never" from "sometimes".
SAMPLES = 32


def load_check(name: str | None) -> Callable[[Any], None] | None:
    """The function ``module.function`` (or ``module:function``) names, or None."""
    if not name:
        return None
    module, _, attr = name.replace(":", ".").rpartition(".")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise SweepError(f"cannot import '{name}': {err}", key="hydra.sweeper.check",
                         fix="name a function as package.module.function, or set it to null") from None
    if not callable(fn):
        raise SweepError(f"'{name}' is not a function", key="hydra.sweeper.check",
                         fix="name a function that takes the composed config")
    return cast("Callable[[Any], None]", fn)


def check_space(spec: Any, config: Mapping[str, Any], check: Callable[[Any], None] | None) -> None:
    """Run ``check`` on the config of the centre and sampled points of ``spec``'s space."""
    if check is None:
        return
    points = sample_points(spec)
    failures: list[tuple[dict[str, Any], Exception]] = []
    for point in points:
        try:
            check(point_config(config, {**spec.fixed, **point}))
        except Exception as err:  # the app's own error type: report it, never crash here
            failures.append((point, err))
    if not failures:
        return
    point, first = failures[0]
    # The keys the app's message names, else the whole point.
    named = {k: v for k, v in point.items() if k in str(first) or k.split(".")[-1] in str(first)}
    shown = ", ".join(f"{k}={v!r}" for k, v in (named or point).items()) or "the fixed overrides"
    if isinstance(first, SweepError):  # key and fix go into the one line once
        problem = first.message
    else:
        problem = f"{type(first).__name__}: {first}"
    if len(failures) == len(points):
        raise SweepError(
            f"no sampled point of the search space passes the app's check ({len(points)} "
            f"tried); at {shown}: {problem}",
            file=spec.file, key=getattr(first, "key", None) or ", ".join(spec.parameters),
            fix=getattr(first, "fix", None) or "change the searched ranges or the fixed overrides")
    warnings.warn(SweepWarning(
        f"{spec.file}: {len(failures)} of {len(points)} sampled points fail the app's check "
        f"(their runs will fail), e.g. at {shown}: {problem}"), stacklevel=2)


def sample_points(spec: Any) -> list[dict[str, Any]]:
    """The space's first protein point (its centre) and ``SAMPLES`` prior draws, seed 0."""
    if not spec.parameters:
        return [{}]
    method = method_for(spec, "random", 0)
    points = [spec.active_params(p) for p in method.suggest([], SAMPLES)]
    centre = method_for(spec, "protein", 0).suggest([], 1)
    return [spec.active_params(p) for p in centre] + points


def point_config(config: Mapping[str, Any], values: Mapping[str, Any]) -> Any:
    """The composed config with ``values`` set at their dotted paths (plain Hydra keys)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(dict(config))
    for path, value in values.items():
        OmegaConf.update(cfg, path.lstrip("+~"), value, force_add=True)
    return cfg


def configured_check(config_dir: str, config_name: str) -> str | None:
    """``hydra.sweeper.check`` of the app's primary config (for ``nested-sweep validate``)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base="1.3"):
        cfg = compose(config_name=config_name, return_hydra_config=True)
    check = OmegaConf.select(cfg, "hydra.sweeper.check", default=None)
    return None if check is None else str(check)


def check_sweep_args(config_dir: str | Path, argv: list[str]) -> None:
    """Read the sweep file a ``+sweep=NAME`` argument selects, before Hydra composes it.

    Hydra reports a malformed or binary group file with a traceback; an app calls this first
    (train.py does) to get one line naming the file instead. Raises ``SweepError``.
    """
    from nested_sweeper.spec.spec import find_sweep_file, read_sweep_file

    for arg in argv:
        key, sep, name = arg.lstrip("+~").partition("=")
        if sep and key == "sweep" and name and not arg.startswith("~"):
            try:
                path = find_sweep_file(name, [config_dir]).resolve()
            except SweepError:  # maybe on another search path: Hydra looks there
                continue
            read_sweep_file(path, file=str(path))

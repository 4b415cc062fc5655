"""A sweep file's parameter mapping -> one distribution: the name, or the keys present,
decide the class (W&B's and Protein's ``log_normal`` differ by their keys)."""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping
from dataclasses import MISSING, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from nested_sweeper.errors import SweepError, SweepWarning

if TYPE_CHECKING:
    pass
from nested_sweeper.schema import DISTRIBUTION_KEYS
from nested_sweeper.space.base import (
    Distribution,
    _err,
    _plain,
)
from nested_sweeper.space.continuous import (
    Beta,
    InvLogUniform,
    InvLogUniformValues,
    LogitNormal,
    LogUniform,
    LogUniformValues,
    Normal,
    ProteinLogNormal,
    Uniform,
    WandbLogNormal,
)
from nested_sweeper.space.discrete import (
    Categorical,
    Constant,
    IntUniform,
    UniformPow2,
)
from nested_sweeper.space.quantized import (
    QBeta,
    QLogNormal,
    QLogUniform,
    QLogUniformValues,
    QNormal,
    QUniform,
)

# --- parsing -----------------------------------------------------------------------------------

_BY_NAME: dict[str, type[Distribution]] = {
    cls.kind: cls
    for cls in (
        Constant,
        Categorical,
        IntUniform,
        Uniform,
        QUniform,
        LogUniform,
        LogUniformValues,
        QLogUniform,
        QLogUniformValues,
        InvLogUniform,
        InvLogUniformValues,
        Normal,
        QNormal,
        QLogNormal,
        Beta,
        QBeta,
        UniformPow2,
        LogitNormal,
    )
}
_WANDB_LOG_NORMAL_KEYS = ("mu", "sigma")
_PROTEIN_LOG_NORMAL_KEYS = ("min", "max", "mean", "scale")

DISTRIBUTION_NAMES: tuple[str, ...] = tuple(sorted([*_BY_NAME, "log_normal"]))
"""Every name ``distribution:`` accepts."""


def _field_names(cls: type[Distribution]) -> list[str]:
    return [f.name for f in fields(cls)]  # type: ignore[arg-type]  # each concrete kind is a dataclass


def _infer_kind(cfg: Mapping[str, Any]) -> str:
    """W&B's rules when ``distribution`` is absent."""
    if "value" in cfg:
        return "constant"
    if "values" in cfg:
        return "categorical"
    if "min" in cfg or "max" in cfg:
        ints = all(
            isinstance(cfg.get(k), (int, np.integer)) and not isinstance(cfg.get(k), bool)
            for k in ("min", "max")
        )
        return "int_uniform" if ints else "uniform"
    if "mu" in cfg or "sigma" in cfg:
        return "normal"
    keys = set(cfg) - {"distribution"}
    fits = [n for n, c in _BY_NAME.items() if keys and keys <= set(_field_names(c))]
    example = f"e.g. distribution: {fits[0]}; " if fits else ""
    raise _err(
        f"cannot tell the distribution from the keys {sorted(cfg)}",
        None,
        f"add distribution: NAME ({example}one of {', '.join(DISTRIBUTION_NAMES)})",
    )


def _resolve_class(cfg: Mapping[str, Any]) -> type[Distribution]:
    name = cfg.get("distribution")
    if name is None:
        name = _infer_kind(cfg)
    if not isinstance(name, str) or name not in DISTRIBUTION_NAMES:
        close = difflib.get_close_matches(str(name), DISTRIBUTION_NAMES, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise _err(
            f"unknown distribution {name!r}",
            "distribution",
            f"{hint}valid names: {', '.join(DISTRIBUTION_NAMES)}",
        )
    if name != "log_normal":
        return _BY_NAME[name]
    wandb = any(k in cfg for k in _WANDB_LOG_NORMAL_KEYS)
    protein = any(k in cfg for k in _PROTEIN_LOG_NORMAL_KEYS)
    if wandb == protein:
        raise _err(
            "log_normal has two forms: W&B's {mu, sigma} (X = exp(Normal(mu, sigma))) or "
            "Protein's {min, max, mean, scale} (log scale between min and max)",
            "distribution",
            "give either mu/sigma or min/max (with optional mean/scale), not both",
        )
    return WandbLogNormal if wandb else ProteinLogNormal


def _check_keys(cfg: Mapping[str, Any], cls: type[Distribution]) -> None:
    for k in cfg:
        if k not in DISTRIBUTION_KEYS:
            close = difflib.get_close_matches(str(k), DISTRIBUTION_KEYS, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(DISTRIBUTION_KEYS)}"
            raise _err(f"unknown key {k!r}", str(k), hint)
    accepted = _field_names(cls)
    for k in cfg:
        if k != "distribution" and k not in accepted:
            users = [
                n
                for n in DISTRIBUTION_NAMES
                if n != "log_normal" and k in _field_names(_BY_NAME[n])
            ]
            if k in (*_WANDB_LOG_NORMAL_KEYS, *_PROTEIN_LOG_NORMAL_KEYS):
                users.append("log_normal")
            raise _err(
                f"{k} does not apply to {cls.kind} (it takes {', '.join(accepted)})",
                str(k),
                f"remove {k}, or use a distribution that takes it: {', '.join(sorted(set(users)))}",
            )
    required = [
        f.name
        for f in fields(cls)  # type: ignore[arg-type]  # each concrete kind is a dataclass
        if f.default is MISSING and f.default_factory is MISSING
    ]
    missing = [k for k in required if k not in cfg]
    if missing:
        example = {"min": "min: 0", "max": "max: 1", "values": "values: [a, b]"}
        raise _err(
            f"{cls.kind} needs {' and '.join(required)}; missing {', '.join(missing)}",
            missing[0],
            "add " + ", ".join(example.get(k, f"{k}: ...") for k in missing),
        )


def find_interpolation(value: Any) -> str | None:
    """The first string holding ``${`` in a value (lists and mappings searched), else None."""
    if isinstance(value, str):
        return value if "${" in value else None
    if isinstance(value, Mapping):
        value = [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple)):
        for item in value:
            found = find_interpolation(item)
            if found is not None:
                return found
    return None


def refuse_interpolations(value: Any, *, key: str, file: str | None) -> None:
    """Sweep values are data: an interpolation (``${oc.env:HOME}``) in one would be resolved
    into every run's config.yaml, leaking the sweeper's environment (secrets included)."""
    found = find_interpolation(value)
    if found is None:
        return
    shown = found if len(found) <= 60 else found[:59] + "…"
    raise SweepError(f"the value {shown!r} is an interpolation; sweep values are plain data",
                     file=file, key=key or None,
                     fix="write the value itself, or reference it from your own config instead")


def parse_distribution(
    cfg: Mapping[str, Any], *, key: str = "", file: str | None = None
) -> Distribution:
    """Build a :class:`Distribution` from its sweep-file mapping.

    Args:
        cfg: the parameter's block, e.g. ``{"distribution": "log_uniform_values", "min": 1e-4,
            "max": 1e-2}``; ``distribution`` may be left out (W&B's inference: ``value`` is a
            constant, ``values`` categorical, int ``min``/``max`` int_uniform, else uniform,
            ``mu``/``sigma`` normal).
        key: the parameter's dotted path, used in errors and warnings.
        file: the sweep file, used in errors and warnings.

    A :class:`Distribution` passed as ``cfg`` is returned unchanged. Warnings
    (:class:`SweepWarning`) name the file and the key the same way errors do.

    Raises:
        SweepError: naming ``file``, ``key`` (plus the offending sub-key) and a fix.
    """
    if isinstance(cfg, Distribution):
        return cfg
    if not isinstance(cfg, Mapping):
        raise SweepError(
            f"a parameter must be a mapping such as {{min: 0, max: 1}} or {{values: [a, b]}}, "
            f"got {cfg!r}",
            file=file,
            key=key or None,
            fix="for a fixed value write {value: X}",
        )
    plain = _plain(cfg)
    refuse_interpolations(plain.get("values"), key=f"{key}.values" if key else "values", file=file)
    refuse_interpolations(plain.get("value"), key=f"{key}.value" if key else "value", file=file)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cls = _resolve_class(plain)
            _check_keys(plain, cls)
            args = {k: v for k, v in plain.items() if k != "distribution"}
            dist = cls(**args)
    except SweepError as e:
        raise e.located(file=file, key_prefix=key or None) from None
    prefix = ": ".join(p for p in (file, key) if p)
    for w in caught:
        msg = str(w.message)
        if issubclass(w.category, SweepWarning) and key:
            msg = f"{prefix}.{msg}"
        elif issubclass(w.category, SweepWarning) and file:
            msg = f"{file}: {msg}"
        warnings.warn(msg, w.category, stacklevel=2)
    return dist

"""Hydra's sweep grammar on the command line → sweep-file parameter blocks, and back to overrides.

``trainer.lr=tag(log,interval(1e-5,1e-2))`` becomes ``log_uniform_values``, ``interval`` a
uniform (``int_uniform`` when both ends are ints), ``range(a,b[,step])`` the ints of Python's
``range`` (stop excluded), ``choice``/``shuffle`` a categorical — as in hydra-optuna-sweeper.
"""

from __future__ import annotations

import math
import re
from typing import Any

from nested_sweeper.errors import SweepError

# Values Hydra's grammar reads back unchanged without quotes.
_PLAIN = re.compile(r"^[A-Za-z_/][\w./\-]*$")


def split_arguments(arguments: list[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """(search space from sweep overrides, every other override unchanged)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    space: dict[str, dict[str, Any]] = {}
    fixed: list[str] = []
    for override in parser.parse_overrides(arguments):
        if override.is_sweep_override():
            space[override.get_key_element()] = parameter_from_override(override)
        else:
            fixed.append(override.input_line or "")
    return space, fixed


def parameter_from_override(override: Any) -> dict[str, Any]:
    """One Hydra sweep override as a sweep-file parameter block."""
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    key = override.get_key_element()
    value = override.value()
    log = "log" in getattr(value, "tags", set())
    if isinstance(value, ChoiceSweep):
        return {"values": list(value.list)}
    if isinstance(value, RangeSweep):
        items = list(override.sweep_iterator())
        if all(isinstance(v, int) for v in items) and value.step == 1 and not log:
            return {"distribution": "int_uniform", "min": items[0], "max": items[-1]}
        return {"values": items}
    if isinstance(value, IntervalSweep):
        lo, hi = value.start, value.end
        if log:
            return {"distribution": "log_uniform_values", "min": lo, "max": hi}
        if isinstance(lo, int) and isinstance(hi, int):
            return {"distribution": "int_uniform", "min": lo, "max": hi}
        assert lo is not None and hi is not None  # Hydra's parser gives an interval both ends
        return {"distribution": "uniform", "min": float(lo), "max": float(hi)}
    raise SweepError(f"'{override.input_line}' is not a supported sweep", key=key,
                     fix="use choice(...), range(a, b), interval(a, b) or tag(log, interval(a, b))")


def format_value(value: Any) -> str:
    """A Python value as a Hydra override value that parses back to the same value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{format_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in ("null", "true", "false", "nan", "inf"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def to_overrides(values: dict[str, Any]) -> list[str]:
    return [f"{path}={format_value(value)}" for path, value in values.items()]

"""Legacy CARBS search-space markers: ``${ss:KIND, MIN, MAX[, CENTER]}``.

Old configs mark a swept value in place, e.g. ``learning_rate: ${ss:log, 1e-5, 1e-1}``. This
module reads such markers with a small grammar (never ``eval``) and turns each into a sweep-file
parameter, or into its centre for a plain run through the ``ss`` OmegaConf resolver::

    >>> m = parse_marker("${ss:pow2, 131072, 524288}")
    >>> m.to_param()
    {'distribution': 'uniform_pow2', 'min': 131072, 'max': 524288, 'mean': 262144, 'scale': 0.5}
    >>> m.resolved_center()
    262144

Kinds and their default centres (the explicit fourth argument wins when given):

======  =================  ===================================================
kind    distribution       default centre
======  =================  ===================================================
log     ``log_normal``     geometric mean ``sqrt(min * max)``
linear  ``uniform``        middle ``(min + max) / 2``
pow2    ``uniform_pow2``   power of two nearest the geometric mean (lower on ties)
int     ``int_uniform``    middle rounded half up
logit   ``logit_normal``   middle in logit space; middle ``(min + max) / 2`` when a
                           bound sits on 0 or 1 (see below)
choice  ``values: [...]``  the first value (``${ss:choice, adam, sgd}``)
======  =================  ===================================================

Logit centres: logit is infinite at 0 and 1, so a centre "in logit space" of a range that
touches them depends only on how far the bound is clamped (``[0.05, 1.0]`` would get 0.9957).
Such a range gets the middle of the bounds as written, ``(min + max) / 2`` (0.525), and only
the bounds themselves are clamped to ``LOGIT_EPS`` inside; a range strictly inside (0, 1)
keeps its logit-space middle (``[0.9, 0.999]`` -> 0.9905, as CARBS searches it).

Every parameter gets ``scale: 0.5``, Protein's "auto" width on its [-1, 1] normalized scale
(a CARBS ``space:`` block's own ``scale`` is kept by ``migrate``). Logit bounds at 0 or 1
(``${ss:logit, 0.0, 1.0}``) are pulled to ``LOGIT_EPS`` inside, so the parameter written to a
sweep file is already clean and ``space`` has nothing to clamp or warn about.

The angle-bracket spelling ``$<ss:...>`` is the same marker; it is not an OmegaConf
interpolation, so :func:`normalize_angle_markers` rewrites it to ``${ss:...}`` before a plain
run resolves the config.

Only the standard library and omegaconf are imported: the sweeper imports this module early.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

from omegaconf import OmegaConf

from nested_sweeper.errors import SweepError
from nested_sweeper.schema import DEFAULT_SCALE, LOGIT_EPS

KINDS: dict[str, str] = {
    "log": "log_normal",
    "linear": "uniform",
    "pow2": "uniform_pow2",
    "int": "int_uniform",
    "logit": "logit_normal",
}
# Categorical markers list their values: ${ss:choice, adam, sgd} (``categorical`` is an alias).
CHOICE_KINDS = ("choice", "categorical")
SYNTAX = "${ss:KIND, MIN, MAX[, CENTER]}"

_KIND_LIST = ", ".join([*KINDS, "choice"])
# The whole value must be one marker; the inner text is parsed by `_parse_args`, never evaluated.
_MARKER = re.compile(r"^\s*\$(?:\{\s*ss\s*:(?P<curly>[^{}]*)\}|<\s*ss\s*:(?P<angle>[^<>]*)>)\s*$")
# Near-misses: a `$` followed by `ss:`/`ss(`, or by a kind name used like a function or resolver
# (`$pow2(1024, 32768)`, `${log:1e-5, 1e-2}`). Ordinary interpolations never match these.
_NEAR_MISS = re.compile(
    r"\$\s*[{<(\[]?\s*(?:ss\s*[:(]|(?:" + "|".join([*KINDS, *CHOICE_KINDS]) + r")\s*[(:,])",
    re.IGNORECASE,
)
_EMBEDDED = re.compile(r"\$(?:\{\s*ss\s*:[^{}]*\}|<\s*ss\s*:[^<>]*>)")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A bare choice value: a name or path-like word (never an expression: no calls, no operators).
_WORD = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")


@dataclass(frozen=True)
class CarbsMarker:
    """One CARBS search space; validated on construction (raises :class:`SweepError`)."""

    kind: str
    min: float
    max: float
    center: float | None = None
    # Protein's width on the [-1, 1] normalized scale; CARBS blocks may carry their own.
    scale: float = DEFAULT_SCALE

    def __post_init__(self) -> None:
        _check(self)

    @property
    def distribution(self) -> str:
        return KINDS[self.kind]

    def bounds(self) -> tuple[float, float]:
        """The bounds a sweep uses: ints for int/pow2, pulled inside (0, 1) for logit."""
        lo, hi = self.min, self.max
        if self.kind in ("int", "pow2"):
            return int(lo), int(hi)
        if self.kind == "logit":
            return max(float(lo), LOGIT_EPS), min(float(hi), 1.0 - LOGIT_EPS)
        return float(lo), float(hi)

    @property
    def clamped(self) -> bool:
        """True when a logit bound sat on 0 or 1 and :meth:`bounds` moved it inside."""
        return self.kind == "logit" and (self.min < LOGIT_EPS or self.max > 1.0 - LOGIT_EPS)

    def resolved_center(self) -> float | int:
        """The value for a plain run: the explicit centre, else the kind's default centre."""
        lo, hi = self.bounds()
        if self.center is not None and self.kind == "logit":
            # a centre on 0 or 1 (`search_center: 1.0`) moves inside with its bound
            return min(max(float(self.center), lo), hi)
        if self.center is not None:
            return int(self.center) if self.kind in ("int", "pow2") else float(self.center)
        if self.kind == "linear":
            return _tidy((lo + hi) / 2.0, lo, hi)
        if self.kind == "int":
            return int(math.floor((lo + hi) / 2.0 + 0.5))
        if self.kind == "log":
            return _tidy(10.0 ** ((math.log10(lo) + math.log10(hi)) / 2.0), lo, hi)
        if self.kind == "pow2":
            return _nearest_pow2(math.sqrt(lo * hi), int(lo), int(hi))
        if self.clamped:
            # logit's middle of a clamped bound says nothing the user wrote (module docstring)
            return _tidy((float(self.min) + float(self.max)) / 2.0, lo, hi)
        mid = (_logit(lo) + _logit(hi)) / 2.0
        return _tidy(1.0 / (1.0 + math.exp(-mid)), lo, hi)

    def to_param(self) -> dict[str, Any]:
        """The sweep-file parameter (Protein form: ``distribution, min, max, mean, scale``)."""
        lo, hi = self.bounds()
        return {
            "distribution": self.distribution,
            "min": lo,
            "max": hi,
            "mean": self.resolved_center(),
            "scale": self.scale,
        }

    def spelling(self) -> str:
        """The canonical marker text, e.g. ``${ss:log, 1e-05, 0.1}``."""
        args = [self.kind, _fmt(self.min), _fmt(self.max)]
        if self.center is not None:
            args.append(_fmt(self.center))
        return "${ss:" + ", ".join(args) + "}"


@dataclass(frozen=True)
class ChoiceMarker:
    """A categorical marker, ``${ss:choice, adam, sgd}``: W&B-style ``values: [...]``."""

    values: tuple[Any, ...]
    kind: str = "choice"
    clamped: bool = False  # the CarbsMarker interface: nothing to clamp here

    def __post_init__(self) -> None:
        if not self.values:
            raise SweepError("a choice marker needs at least one value",
                             fix="write it as ${ss:choice, A, B[, ...]}")
        if len({repr(v) for v in self.values}) != len(self.values):
            raise SweepError(f"a choice marker lists a value twice in {self.spelling()}",
                             fix="list each value once")

    def resolved_center(self) -> Any:
        """The value for a plain run: the first one (CARBS and Protein start from it)."""
        return self.values[0]

    def to_param(self) -> dict[str, Any]:
        return {"values": list(self.values)}

    def spelling(self) -> str:
        return "${ss:choice, " + ", ".join(str(v) for v in self.values) + "}"


Marker = CarbsMarker | ChoiceMarker


def parse_marker(text: str, *, key: str = "", file: str | None = None) -> Marker | None:
    """Parse one marker string.

    Returns None when ``text`` is no marker at all (ordinary values and interpolations), a
    :class:`CarbsMarker` for ``${ss:...}`` and ``$<ss:...>``, and raises :class:`SweepError`
    for malformed markers and near-misses, with the corrected spelling in ``fix``.
    """
    if not isinstance(text, str) or "$" not in text:
        return None
    match = _MARKER.match(text)
    if match is None:
        if _NEAR_MISS.search(text):
            raise _near_miss(text, key=key, file=file)
        return None
    inner = match.group("curly") if match.group("curly") is not None else match.group("angle")
    try:
        return _marker_from_tokens(_split_args(inner, text), text)
    except SweepError as err:
        raise err.located(file=file, key_prefix=key or None) from None


def fixed_marker_value(text: Any) -> float | int | None:
    """The value of a marker whose range is one point, ``${ss:pow2, 128, 128, 128}`` (old
    CARBS files pinned a value that way), else None. Such a marker is no search space."""
    match = _MARKER.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    inner = match.group("curly") if match.group("curly") is not None else match.group("angle")
    tokens = [t.strip().strip("'\"") for t in inner.split(",")]
    if len(tokens) not in (3, 4) or tokens[0] not in KINDS:
        return None
    if not all(_NUMBER.match(t) for t in tokens[1:]):
        return None
    numbers = [_to_number(t) for t in tokens[1:]]
    if any(n != numbers[0] for n in numbers[1:]):
        return None
    return int(numbers[0]) if tokens[0] in ("int", "pow2") else numbers[0]


def marker_from_args(*args: Any, key: str = "", file: str | None = None) -> Marker:
    """Build a marker from already-parsed arguments (the resolver's and CARBS blocks' path)."""
    shown = "${ss:" + ", ".join(str(a) for a in args) + "}"
    try:
        if args and isinstance(args[0], str) and args[0].strip() in CHOICE_KINDS:
            return ChoiceMarker(tuple(args[1:]))
        if not 3 <= len(args) <= 4:
            raise SweepError(
                f"a CARBS marker takes 3 or 4 arguments, got {len(args)}",
                fix=f"write it as {SYNTAX}",
            )
        kind = args[0]
        if not isinstance(kind, str):
            raise SweepError(
                f"CARBS kind must be a name, got {kind!r}", fix=f"KIND is one of {_KIND_LIST}"
            )
        numbers = [_as_number(a, shown) for a in args[1:]]
        return _build(kind.strip(), numbers, shown)
    except SweepError as err:
        raise err.located(file=file, key_prefix=key or None) from None


def register_resolver() -> None:
    """Register the ``ss`` resolver (idempotent): a marker resolves to its centre."""
    OmegaConf.register_new_resolver("ss", _resolve, replace=True)


def find_markers(tree: Any, prefix: str = "", *, file: str | None = None) -> dict[str, Marker]:
    """Dotted path -> marker for every marker string in a plain container.

    ``tree`` is e.g. ``OmegaConf.to_container(cfg, resolve=False)``; list items get their index
    as a path part (``a.0.b``). Near-misses raise :class:`SweepError` naming the path.
    """
    found: dict[str, Marker] = {}
    for path, value in _leaves(tree, prefix):
        marker = parse_marker(value, key=path, file=file) if isinstance(value, str) else None
        if marker is not None:
            found[path] = marker
    return found


def normalize_angle_markers(tree: Any) -> Any:
    """A copy of ``tree`` where ``$<ss:...>`` strings read ``${ss:...}`` (resolvable by OmegaConf)."""
    if isinstance(tree, dict):
        return {k: normalize_angle_markers(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [normalize_angle_markers(v) for v in tree]
    if isinstance(tree, str):
        match = _MARKER.match(tree)
        if match is not None and match.group("angle") is not None:
            return "${ss:" + match.group("angle").strip() + "}"
    return tree


# --- parsing -----------------------------------------------------------------------------------


def _split_args(inner: str, text: str) -> list[str]:
    tokens = [t.strip() for t in inner.split(",")]
    if len(tokens) == 1 and len(inner.split()) > 1:
        # `${ss:log 1e-5 1e-2}`: spaces where commas belong.
        raise SweepError(
            f"CARBS marker arguments must be separated by commas in {text.strip()!r}",
            fix=_fix_text(text),
        )
    return tokens


def _marker_from_tokens(tokens: list[str], text: str) -> Marker:
    if tokens and tokens[0].strip("'\"") in CHOICE_KINDS:
        return _choice_from_tokens(tokens[1:], text)
    if not 3 <= len(tokens) <= 4 or any(t == "" for t in tokens):
        raise SweepError(
            f"a CARBS marker takes 3 or 4 comma-separated arguments, got {text.strip()!r}",
            fix=_fix_text(text),
        )
    kind = tokens[0].strip("'\"")
    if not _IDENT.match(kind):
        raise SweepError(f"CARBS kind must be a name, got {tokens[0]!r}", fix=_fix_text(text))
    bad = [t for t in tokens[1:] if not _NUMBER.match(t.strip("'\""))]
    if bad:
        # Arguments are numbers only: anything else (expressions, calls) is refused unread.
        raise SweepError(
            f"CARBS marker bounds must be plain numbers, got {bad[0]!r} in {text.strip()!r}",
            fix=f"write it as {SYNTAX} with numeric MIN, MAX and CENTER",
        )
    return _build(kind, [_to_number(t.strip("'\"")) for t in tokens[1:]], text.strip())


def _choice_from_tokens(tokens: list[str], text: str) -> ChoiceMarker:
    """``choice`` values: numbers, true/false, quoted strings or plain words; nothing else."""
    values: list[Any] = []
    for token in tokens:
        bare = token.strip()
        if len(bare) >= 2 and bare[0] == bare[-1] and bare[0] in "'\"":
            values.append(bare[1:-1])
        elif _NUMBER.match(bare):
            values.append(_to_number(bare))
        elif bare.lower() in ("true", "false"):
            values.append(bare.lower() == "true")
        elif _WORD.match(bare):
            values.append(bare)
        else:
            raise SweepError(
                f"choice values must be numbers or words, got {bare!r} in {text.strip()!r}",
                fix="quote it: ${ss:choice, 'a b', c}",
            )
    return ChoiceMarker(tuple(values))


def _build(kind: str, numbers: list[float], shown: str) -> CarbsMarker:
    if kind not in KINDS:
        close = difflib.get_close_matches(kind.lower(), list(KINDS), n=1, cutoff=0.5)
        example = _spell(close[0] if close else "KIND", numbers)
        raise SweepError(
            f"unknown CARBS kind {kind!r} in {shown!r}",
            fix=f"KIND is one of {_KIND_LIST}: {example}",
        )
    center = numbers[2] if len(numbers) == 3 else None
    return CarbsMarker(kind, numbers[0], numbers[1], center)


def _near_miss(text: str, *, key: str, file: str | None) -> SweepError:
    inner = _EMBEDDED.search(text)
    if inner is not None:
        return SweepError(
            f"a CARBS marker must be the whole value, got {text.strip()!r}",
            file=file,
            key=key or None,
            fix=f"write the value as just {inner.group(0)}",
        )
    return SweepError(
        f"{text.strip()!r} looks like a CARBS marker but is not one",
        file=file,
        key=key or None,
        fix=_fix_text(text),
    )


def _fix_text(text: str) -> str:
    """The corrected marker salvaged from a near-miss, or the general syntax."""
    words = [w.strip("'\"") for w in re.split(r"[\s,()<>{}\[\]$:]+", text) if w.strip("'\"")]
    words = [w for w in words if w.lower() != "ss"]
    kinds = [w.lower() for w in words if w.lower() in KINDS]
    numbers = [w for w in words if _NUMBER.match(w)]
    if len(kinds) == 1 and len(words) == 1 + len(numbers) and 2 <= len(numbers) <= 3:
        corrected = "${ss:" + ", ".join([kinds[0], *numbers]) + "}"
        return f"write it as {corrected} (syntax {SYNTAX}, KIND one of {_KIND_LIST})"
    return f"write it as {SYNTAX} with KIND one of {_KIND_LIST}"


def _to_number(token: str) -> float | int:
    if re.fullmatch(r"[+-]?\d+", token):
        return int(token)
    return float(token)


def _as_number(value: Any, shown: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SweepError(f"CARBS marker bounds must be numbers, got {value!r} in {shown!r}")
    if isinstance(value, str):
        if not _NUMBER.match(value.strip()):
            raise SweepError(f"CARBS marker bounds must be numbers, got {value!r} in {shown!r}")
        return _to_number(value.strip())
    return value


# --- validation and centres --------------------------------------------------------------------


def _check(m: CarbsMarker) -> None:
    if m.kind not in KINDS:
        raise SweepError(f"unknown CARBS kind {m.kind!r}", fix=f"KIND is one of {_KIND_LIST}")
    values = [m.min, m.max] + ([] if m.center is None else [m.center])
    if any(
        isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
        for v in values
    ):
        raise SweepError(f"CARBS bounds must be finite numbers, got {values!r}")
    if isinstance(m.scale, bool) or not isinstance(m.scale, (int, float)) or not m.scale > 0:
        raise SweepError(f"scale must be a positive number, got {m.scale!r}")
    if m.min >= m.max:
        fix = f"swap them: {_spell(m.kind, [m.max, m.min, *values[2:]])}" if m.min > m.max else None
        raise SweepError(
            f"min ({_fmt(m.min)}) must be below max ({_fmt(m.max)}) in {m.spelling()}", fix=fix
        )
    if m.kind in ("log", "pow2") and m.min <= 0:
        raise SweepError(
            f"{m.kind} bounds must be positive in {m.spelling()}",
            fix="use linear for ranges that include 0",
        )
    if m.kind == "logit" and (m.min < 0 or m.max > 1):
        raise SweepError(
            f"logit bounds must lie in [0, 1] in {m.spelling()}", fix="use linear for other ranges"
        )
    if m.kind in ("int", "pow2"):
        _check_integral(m, values)
    if m.kind == "pow2" and 2 ** math.floor(math.log2(m.max)) < m.min:
        raise SweepError(f"no power of two lies between the bounds of {m.spelling()}")
    _check_center(m)


def _check_integral(m: CarbsMarker, values: list[float]) -> None:
    if all(float(v).is_integer() for v in values):
        return
    rounded = [math.ceil(m.min), math.floor(m.max), *(round(v) for v in values[2:])]
    raise SweepError(
        f"{m.kind} bounds must be whole numbers in {m.spelling()}",
        fix=f"use {_spell(m.kind, rounded)}",
    )


def _check_center(m: CarbsMarker) -> None:
    if m.center is None:
        return
    if not m.min <= m.center <= m.max:
        raise SweepError(
            f"centre {_fmt(m.center)} lies outside [{_fmt(m.min)}, {_fmt(m.max)}] in {m.spelling()}"
        )
    if m.kind == "pow2" and not math.log2(m.center).is_integer():
        near = _nearest_pow2(m.center, int(m.min), int(m.max))
        raise SweepError(
            f"a pow2 centre must be a power of two in {m.spelling()}", fix=f"use {near}"
        )


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _nearest_pow2(x: float, lo: int, hi: int) -> int:
    """The power of two within [lo, hi] nearest to ``x`` (linear distance; lower on ties)."""
    candidates: list[int] = [2**k for k in range(math.ceil(math.log2(lo)), math.floor(math.log2(hi)) + 1)]
    return min(candidates, key=lambda p: (abs(p - x), p))


def _tidy(x: float, lo: float, hi: float) -> float:
    # 10 significant digits drop float noise (0.0010000000000000002, and the 0.499999999996 that
    # the slightly asymmetric float 1 - LOGIT_EPS gives) without moving the centre noticeably.
    return min(max(float(f"{x:.10g}"), lo), hi)


def _fmt(x: float) -> str:
    return str(int(x)) if isinstance(x, int) else repr(float(x))


def _spell(kind: str, numbers: list[Any]) -> str:
    return (
        "${ss:"
        + ", ".join([kind, *(_fmt(n) if isinstance(n, (int, float)) else str(n) for n in numbers)])
        + "}"
    )


def _leaves(tree: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(tree, dict):
        items: list[tuple[Any, Any]] = list(tree.items())
    elif isinstance(tree, list):
        items = list(enumerate(tree))
    else:
        return [(prefix, tree)]
    out: list[tuple[str, Any]] = []
    for k, v in items:
        out.extend(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _resolve(*args: Any) -> Any:
    return marker_from_args(*args).resolved_center()

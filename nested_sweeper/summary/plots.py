"""The summary's PNGs: history, parameters, importance (fANOVA) and parallel coordinates.
matplotlib is imported inside the functions."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nested_sweeper.errors import SweepError
from nested_sweeper.records import TrialRecord, TrialState

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
from nested_sweeper.summary.render import (
    _counts_text,
    _fmt,
    _short_names,
)
from nested_sweeper.summary.report import (
    SweepReport,
    _finite,
    _round,
    _run_name,
    shown_round,
)

PLOT_FILES = ("history.png", "params.png", "importance.png", "parallel.png")


# --------------------------------------------------------------------------- plots


@dataclass(frozen=True)
class _Axis:
    """How one parameter is drawn: its scale, and its choices when categorical."""

    scale: str  # "linear" | "log" | "log2" | "logit" | "categorical"
    choices: tuple[Any, ...] = ()

    def position(self, value: Any) -> float:
        """A value on a linear axis (log/logit applied; categories as their index)."""
        if self.scale == "categorical":
            return float(self.choices.index(value)) if value in self.choices else math.nan
        x = float(value)
        if self.scale in ("log", "log2"):
            return math.log(x) if x > 0 else math.nan
        if self.scale == "logit":
            return math.log(x / (1 - x)) if 0 < x < 1 else math.nan
        return x


def _axis_for(report: SweepReport, name: str) -> _Axis:
    values = [t.params[name] for t in report.trials if name in t.params]
    dist = report.distributions.get(name, {})
    if dist.get("name") == "CategoricalDistribution" or any(
        isinstance(v, (str, bool)) or v is None for v in values
    ):
        choices = list(dist.get("attributes", {}).get("choices") or [])
        for v in values:
            if v not in choices:
                choices.append(v)
        return _Axis("categorical", tuple(choices))
    declared = report.spec.get("parameters", {}).get(name, {})
    kind = str(declared.get("distribution", "")) if isinstance(declared, Mapping) else ""
    numbers = [float(v) for v in values]
    if "logit" in kind and all(0 < v < 1 for v in numbers):
        return _Axis("logit")
    if "pow2" in kind and all(v > 0 for v in numbers):
        return _Axis("log2")
    log = dist.get("attributes", {}).get("log") or "log" in kind.replace("logit", "")
    if log and all(v > 0 for v in numbers):
        return _Axis("log")
    return _Axis("linear")


def _set_scale(ax: Axes, axis: _Axis) -> None:
    if axis.scale == "log":
        ax.set_xscale("log")
    elif axis.scale == "log2":
        ax.set_xscale("log", base=2)
    elif axis.scale == "logit":
        ax.set_xscale("logit")
    elif axis.scale == "categorical":
        ax.set_xticks(range(len(axis.choices)), [_fmt(c) for c in axis.choices])
        ax.set_xlim(-0.5, len(axis.choices) - 0.5)
    if axis.scale != "categorical":
        ax.margins(x=0.08)


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A bare Figure on an Agg canvas: no pyplot, so no global backend or figure registry.
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _message(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def write_plots(report: SweepReport, out_dir: Path | None = None) -> list[Path]:
    """Write history.png, params.png, importance.png and parallel.png; return their paths.

    Every plot also renders with no or one completed run (a panel says what is missing).

    Raises:
        SweepError: Neither ``out_dir`` nor the report's sweep directory is known.
    """
    target = Path(out_dir) if out_dir is not None else None
    if target is None and report.sweep_dir:
        target = Path(report.sweep_dir)
    if target is None:
        raise SweepError(
            "the sweep directory is unknown", key="plots", fix="pass an output directory"
        )
    target.mkdir(parents=True, exist_ok=True)
    painters = (_plot_history, _plot_params, _plot_importance, _plot_parallel)
    paths = []
    for name, paint in zip(PLOT_FILES, painters):
        fig = paint(report)
        path = target / name
        fig.savefig(path)
        paths.append(path)
    return paths


def _title(report: SweepReport) -> str:
    best = report.best
    text = f"{report.name}: {report.metric} ({report.goal})"
    return text + (f", best {_fmt(best.value)} at {_run_name(best)}" if best else "")


def _value(trial: TrialRecord) -> float:
    """The metric of a trial drawn here (completed or pruned: always a finite number)."""
    return math.nan if trial.value is None else float(trial.value)


def _mark_failed(ax: Axes, xs: Sequence[float]) -> None:
    # Failures have no metric: mark them along the bottom edge, at their x.
    ax.scatter(
        xs,
        [0.02] * len(xs),
        marker="x",
        color="red",
        label="failed",
        zorder=3,
        transform=ax.get_xaxis_transform(),
    )
    # A blended transform leaves the data limits alone; widen x so a log axis has a range.
    ax.update_datalim([(x, 0.0) for x in xs if math.isfinite(x)], updatey=False)
    ax.autoscale_view()


def _plot_history(report: SweepReport) -> Figure:
    from matplotlib.ticker import MaxNLocator

    fig = _new_figure(8, 4.5)
    ax = fig.add_subplot()
    done = report.completed
    if not done:
        _message(ax, f"no completed runs yet ({_counts_text(report)})")
        ax.set_title(_title(report))
        return fig
    rounds = sorted({_round(t) or 0 for t in done})
    colors = {r: f"C{i % 10}" for i, r in enumerate(rounds)}
    for r in rounds:
        mine = [t for t in done if (_round(t) or 0) == r]
        ax.scatter(
            [t.number for t in mine],
            [_value(t) for t in mine],
            color=colors[r],
            label=f"round {shown_round(r)}",
            zorder=3,
        )
    pick = max if report.goal == "maximize" else min
    best_so_far: list[float] = []
    for t in done:
        best_so_far.append(_value(t) if not best_so_far else pick(best_so_far[-1], _value(t)))
    ax.step([t.number for t in done], best_so_far, where="post", color="black", label="best so far")
    pruned = [t for t in report.trials if t.state is TrialState.PRUNED and _finite(t.value)]
    if pruned:  # stopped early: their last value, drawn hollow
        ax.scatter(
            [t.number for t in pruned],
            [_value(t) for t in pruned],
            facecolors="none",
            edgecolors="gray",
            label="pruned",
            zorder=3,
        )
    failed = [t.number for t in report.trials if t.state is TrialState.FAIL]
    if failed:
        _mark_failed(ax, failed)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(report.metric)
    ax.set_title(_title(report))
    ax.legend(fontsize="small", loc="best")
    ax.grid(alpha=0.3)
    return fig


def _plot_params(report: SweepReport) -> Figure:
    names = report.param_names
    ncols = max(1, min(3, len(names)))
    nrows = max(1, math.ceil(len(names) / ncols))
    fig = _new_figure(4 * ncols, 3.2 * nrows)
    if not names:
        _message(fig.add_subplot(), "no swept parameters")
        return fig
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    done, best = report.completed, report.best
    for ax, name in zip(axes, names):
        axis = _axis_for(report, name)
        pos = (lambda v, a=axis: a.position(v)) if axis.scale == "categorical" else float
        have = [t for t in done if name in t.params]
        ax.scatter([pos(t.params[name]) for t in have], [t.value for t in have], alpha=0.8)
        if best is not None and name in best.params:
            ax.scatter(
                [pos(best.params[name])],
                [best.value],
                marker="*",
                s=200,
                color="gold",
                edgecolor="black",
                zorder=4,
                label="best",
            )
        failed = [t for t in report.trials if t.state is TrialState.FAIL and name in t.params]
        if failed:
            _mark_failed(ax, [pos(t.params[name]) for t in failed])
        _set_scale(ax, axis)
        ax.set_xlabel(
            name + ("" if axis.scale in ("linear", "categorical") else f" ({axis.scale})")
        )
        ax.set_ylabel(report.metric)
        ax.grid(alpha=0.3)
        if not have:
            ax.set_title("no completed runs", fontsize="small")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(_title(report))
    return fig


def param_importances(report: SweepReport, *, seed: int = 0) -> dict[str, float] | str:
    """fANOVA importance of each varying parameter, or why it cannot be computed.

    The evaluator is seeded so that the same study always gives the same bars.
    """
    import optuna
    from optuna.distributions import json_to_distribution

    done = report.completed
    varying = [
        n
        for n in report.param_names
        if n in report.distributions and len({repr(t.params.get(n)) for t in done}) > 1
    ]
    if len(done) < 2 or not varying:
        return (
            f"not enough data for parameter importance: needs >= 2 completed runs and >= 1 "
            f"varying parameter (have {len(done)} completed, {len(varying)} varying)"
        )
    dists = {n: json_to_distribution(json.dumps(report.distributions[n])) for n in varying}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "study created" line on stderr
    try:
        study = optuna.create_study(direction="maximize" if report.goal == "maximize" else "minimize")
    finally:
        optuna.logging.set_verbosity(verbosity)
    for t in done:
        params = {n: t.params[n] for n in varying if n in t.params}
        if len(params) < len(varying):
            continue
        try:
            trial = optuna.trial.create_trial(params=params, distributions=dists, value=t.value)
        except ValueError:  # a value outside the last trial's distribution: leave it out
            continue
        study.add_trial(trial)
    if len(study.trials) < 2:
        return "not enough data for parameter importance: runs do not share one search space"
    try:
        # fANOVA (Optuna's default evaluator) fits a random forest with scikit-learn.
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
        return optuna.importance.get_param_importances(study, evaluator=evaluator)
    except ImportError as exc:
        return f"parameter importance needs scikit-learn: {exc}"
    except (ValueError, RuntimeError) as exc:
        return f"parameter importance failed: {exc}"


def _plot_importance(report: SweepReport) -> Figure:
    result = param_importances(report)
    rows = len(result) if isinstance(result, dict) else 1
    fig = _new_figure(7, 1.5 + 0.4 * rows)
    ax = fig.add_subplot()
    ax.set_title(f"{report.name}: parameter importance for {report.metric} (fANOVA)")
    if isinstance(result, str):
        _message(ax, result)
        return fig
    names = list(result)[::-1]  # most important on top
    ax.barh(names, [result[n] for n in names], color="C0")
    for y, name in enumerate(names):
        ax.text(result[name], y, f" {result[name]:.2f}", va="center", fontsize="small")
    ax.set_xlim(0, max(1.0, max(result.values()) * 1.15))
    ax.set_xlabel("importance (sums to 1)")
    return fig


def _normalize(values: list[float]) -> list[float]:
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
    if hi == lo:
        return [0.5 if math.isfinite(v) else math.nan for v in values]
    return [(v - lo) / (hi - lo) for v in values]


def _plot_parallel(report: SweepReport) -> Figure:
    from matplotlib import cm, colormaps, colors

    names = report.param_names
    fig = _new_figure(max(6.0, 1.6 * (len(names) + 1)), 5)
    ax = fig.add_subplot()
    ax.set_title(_title(report))
    done = [t for t in report.completed if all(n in t.params for n in names)]
    if not done:
        _message(ax, f"no completed runs yet ({_counts_text(report)})")
        return fig
    axes = [_axis_for(report, n) for n in names]
    columns = [_normalize([a.position(t.params[n]) for t in done]) for n, a in zip(names, axes)]
    metric = [_value(t) for t in done]
    columns.append(_normalize(metric))
    cmap = colormaps["viridis" if report.goal == "maximize" else "viridis_r"]
    norm = colors.Normalize(
        min(metric), max(metric) if max(metric) > min(metric) else min(metric) + 1
    )
    xs = list(range(len(columns)))
    order = sorted(range(len(done)), key=lambda i: metric[i], reverse=report.goal == "minimize")
    for i in order:  # the best lines are drawn last, on top
        ax.plot(xs, [c[i] for c in columns], color=cmap(norm(metric[i])), alpha=0.8, lw=1.5)
    for x, (name, axis) in enumerate(zip([*names, report.metric], [*axes, None])):
        ax.axvline(x, color="gray", lw=0.8)
        _label_axis(ax, x, axis, [t.params[name] for t in done] if axis else metric)
    labels = [*_short_names(names).values(), report.metric]
    ax.set_xticks(xs, labels, rotation=20, ha="right")
    ax.set_yticks([])
    ax.set_ylim(-0.08, 1.08)
    ax.set_xlim(-0.3, len(columns) - 0.7)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=report.metric)
    return fig


def _label_axis(ax: Axes, x: int, axis: _Axis | None, values: list[Any]) -> None:
    """Write an axis's range (or its categories) beside it, in the parameter's own units."""
    if axis is not None and axis.scale == "categorical":
        used = [c for c in axis.choices if c in values]
        positions = _normalize([axis.position(c) for c in used])
        for c, y in zip(used, positions):
            ax.text(x + 0.03, y, _fmt(c), fontsize="x-small", va="center")
        return
    lo, hi = min(float(v) for v in values), max(float(v) for v in values)
    if hi == lo:  # _normalize put a constant axis in the middle
        ax.text(x + 0.03, 0.5, _fmt(values[0]), fontsize="x-small", va="bottom")
        return
    ax.text(x + 0.03, 1.0, _fmt(hi), fontsize="x-small", va="bottom")
    ax.text(x + 0.03, 0.0, _fmt(lo), fontsize="x-small", va="top")

"""The sweep file's vocabulary, written once: root keys, settings, methods, goals, parameter
keys and output formats. The loader (``spec``), ``migrate``, the distribution parser
(``space``), the search methods and the CLI all read these names from here, so a new setting
or method is added in one place (docs/design.md, "One of each").

Plain constants only: this module is imported on Hydra's app start.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------- the file's root

# The only keys a sweep file has at its root; everything else belongs under `sweep:`.
ROOT_KEYS = ("defaults", "rollout_count", "num_samples", "sweep")
DEFAULT_ROLLOUT_COUNT = 10
DEFAULT_NUM_SAMPLES = 1

# ---------------------------------------------------------------------------- under `sweep:`

# The search settings, in the order `nested-sweep migrate` writes them; every other key under
# `sweep:` is a top-level config group whose overrides every run gets (trainer:, env:, ...).
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
METHODS = ("grid", "random", "bayes", "protein")
DEFAULT_METHOD = "protein"
GOALS = ("maximize", "minimize")
DEFAULT_GOAL = "maximize"
EARLY_TERMINATE_TYPES = ("hyperband", "median")

# ---------------------------------------------------------------------------- one parameter

# The keys of one distribution's mapping (W&B's and Protein's); `when` makes it conditional.
DISTRIBUTION_KEYS = (
    "distribution",
    "min",
    "max",
    "mean",
    "scale",
    "mu",
    "sigma",
    "q",
    "a",
    "b",
    "value",
    "values",
    "probabilities",
    "grid_points",
)
# Keys that make a mapping one parameter rather than a nested block of parameters.
PARAM_KEYS = frozenset((*DISTRIBUTION_KEYS, "when"))
# `logit_normal` bounds are clamped into [LOGIT_EPS, 1 - LOGIT_EPS] so logit(x) stays finite
# (CARBS markers too).
LOGIT_EPS = 1e-6
# Protein's default search width on its [-1, 1] normalized scale.
DEFAULT_SCALE = 0.5

# ---------------------------------------------------------------------------- outputs

# `nested-sweep summary --format`.
FORMATS = ("table", "json", "csv")
# The study database in each sweep directory.
DB_NAME = "sweep.db"

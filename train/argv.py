"""Command-line preparation that must run before Hydra parses ``sys.argv`` (stdlib only).

- ``wandb agent`` starts a program as ``python train.py --trainer.learning_rate=0.01 ...``
  (W&B's default ``${args}``); Hydra wants ``trainer.learning_rate=0.01``. The argparse
  spelling ``--trainer.learning_rate 0.01`` (space-separated) means the same.
- ``+user=NAME`` with no ``conf/user/NAME.yaml`` would fail deep in Hydra's composition;
  we say how to create the file instead.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

# Hydra's long options that take a value (`--config-name=x` is one of these, not an override).
HYDRA_VALUE_OPTIONS = frozenset(
    {
        "--cfg",
        "--config-path",
        "--config-name",
        "--config-dir",
        "--info",
        "--package",
        "--experimental-rerun",
    }
)
# Its switches take none, so `--run=x` can only mean the `run` key; `--run x` stays Hydra's
# switch followed by an override, as Hydra reads it.
HYDRA_SWITCHES = frozenset(
    {"--help", "--hydra-help", "--version", "--resolve", "--run", "--multirun",
     "--shell-completion"}
)


def agent_args_to_overrides(argv: Sequence[str]) -> list[str]:
    """Turn W&B agent / argparse arguments into Hydra overrides.

    ``--a.b=1`` and ``--a.b 1`` both become ``a.b=1``. Hydra's own options
    (``--config-name=x``, ``--cfg job``, ``--multirun``, ...) and plain overrides pass through
    unchanged. A value keeps everything after the first ``=`` as it is.
    """
    out: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        key = arg.split("=", 1)[0]
        if _is_key_option(key) and "=" in arg:
            out.append(arg[2:])
        elif (_is_key_option(key) and key not in HYDRA_SWITCHES and i + 1 < len(args)
              and _is_value(args[i + 1])):
            out.append(f"{arg[2:]}={args[i + 1]}")
            i += 1
        else:
            out.append(arg)
        i += 1
    return out


def _is_key_option(key: str) -> bool:
    """``--a.b``: a config key spelled as a long option (not one of Hydra's own)."""
    return key.startswith("--") and len(key) > 2 and key not in HYDRA_VALUE_OPTIONS


def _is_value(arg: str) -> bool:
    """The next argument is the option's value unless it is itself an option (``-m``,
    ``--x``); negative numbers (``-1``, ``-1e-3``) are values, as in argparse."""
    if not arg.startswith("-"):
        return True
    try:
        float(arg)
    except ValueError:
        return False
    return True


def missing_user_file(argv: Sequence[str], config_dir: Path) -> str | None:
    """The error message for a ``user=NAME`` override whose file does not exist, else None."""
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key.lstrip("+~") != "user":
            continue
        for name in value.split(","):
            name = name.strip()
            if name and name != "null" and not (config_dir / "user" / f"{name}.yaml").exists():
                return (
                    f"conf/user/{name}.yaml: user: no such user file; create it with "
                    f"`cp conf/user/example.yaml conf/user/{name}.yaml` and set your W&B "
                    "entity and output root (train_dir) in it"
                )
    return None


def prepare_argv(config_dir: Path) -> None:
    """Rewrite ``sys.argv`` in place for Hydra; exit with a message on a missing user file."""
    args = agent_args_to_overrides(sys.argv[1:])
    problem = missing_user_file(args, config_dir)
    if problem:
        sys.exit(f"error: {problem}")
    sys.argv[1:] = args

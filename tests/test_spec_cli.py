"""Sweep files through `nested-sweep validate`: the shipped ones pass, bad ones fail clearly."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SHIPPED = ["protein_working", "quick", "full", "conditional", "my_sweep", "empty", "early_stop"]


def write(tmp_path: Path, body: str, name: str = "bad.yaml") -> str:
    path = tmp_path / name
    path.write_text("# @package _global_\n" + textwrap.dedent(body))
    return str(path)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_sweeps_validate(cli, name: str) -> None:
    code, out, err = cli("validate", name)
    assert code == 0, err
    assert f"conf/sweep/{name}.yaml: valid" in out
    assert "search space" in out and "fixed overrides" in out


def test_validate_prints_the_resolved_space(cli) -> None:
    code, out, _ = cli("validate", "protein_working")
    assert code == 0
    assert "trainer.learning_rate" in out and "log_normal" in out
    assert "trainer.batch_size" in out and "uniform_pow2" in out
    assert "trainer.total_timesteps" in out and "2048" in out
    assert "3 rounds × 1 runs" in out


def test_nested_and_dotted_parameters_flatten_alike(tmp_path: Path) -> None:
    from hydra_plugins.nested_sweeper._spec import load_spec

    dotted = write(tmp_path, """
        sweep:
          parameters:
            trainer.gamma: {min: 0.9, max: 0.99}
            env.game.max_steps: {values: [16, 32]}
    """, "a.yaml")
    nested = write(tmp_path, """
        sweep:
          parameters:
            trainer:
              parameters:
                gamma: {min: 0.9, max: 0.99}
            env:
              parameters:
                game:
                  parameters:
                    max_steps: {values: [16, 32]}
    """, "b.yaml")
    a, b = load_spec(dotted), load_spec(nested)
    assert list(a.parameters) == list(b.parameters) == ["trainer.gamma", "env.game.max_steps"]
    assert a.space == b.space


def test_spec_model_fields(tmp_path: Path) -> None:
    from hydra_plugins.nested_sweeper._spec import load_spec

    spec = load_spec(write(tmp_path, """
        rollout_count: 4
        sweep:
          num_samples: 3
          method: grid
          metric: {name: loss, goal: minimize}
          seed: 7
          early_terminate: {type: hyperband, min_iter: 2, eta: 3}
          parameters:
            trainer.use_lstm: {values: [false, true]}
            trainer.lstm_hidden_size: {values: [32, 64], when: {trainer.use_lstm: true}}
          trainer: {total_timesteps: 100}
          env: {game: {max_steps: 8}}
    """))
    assert (spec.method, spec.metric, spec.goal, spec.seed) == ("grid", "loss", "minimize", 7)
    assert (spec.rollout_count, spec.num_samples) == (4, 3)
    assert spec.fixed == {"trainer.total_timesteps": 100, "env.game.max_steps": 8}
    assert spec.early_terminate is not None and spec.early_terminate.min_iter == 2
    assert spec.active_params({"trainer.use_lstm": False, "trainer.lstm_hidden_size": 32}) == {
        "trainer.use_lstm": False}
    assert spec.active_params({"trainer.use_lstm": True, "trainer.lstm_hidden_size": 32}) == {
        "trainer.use_lstm": True, "trainer.lstm_hidden_size": 32}


BAD = [
    # (body, key path in the message, words of the fix)
    ("trainer: {learning_rate: 0.1}\nsweep: {}\n", "trainer", "move it under 'sweep.trainer'"),
    ("env: {num_envs: 4}\n", "env", "move it under 'sweep.env'"),
    ("parameters: {trainer.gamma: {min: 0.9, max: 0.99}}\n", "parameters", "sweep.parameters"),
    ("metric: reward\n", "metric", "sweep.metric"),
    ("method: random\n", "method", "sweep.method"),
    ("sweep:\n  parameters:\n    trainer.gamma: {distribution: unifrom, min: 0.9, max: 0.99}\n",
     "sweep.parameters.trainer.gamma", "uniform"),
    ("sweep:\n  parameters:\n    trainer.gamma: {distribution: uniform, min: 0.9}\n",
     "sweep.parameters.trainer.gamma", "max"),
    ("sweep:\n  parameters:\n    trainer.gamma: {min: 0.99, max: 0.9}\n",
     "sweep.parameters.trainer.gamma", "swap"),
    ("sweep:\n  parameters:\n    trainer.learning_rate: {distribution: log_uniform_values, min: 0.0, max: 0.1}\n",
     "sweep.parameters.trainer.learning_rate", "positive"),
    ("sweep:\n  parameters:\n    trainer.learning_rate: {distribution: log_normal, min: -1.0, max: 0.1, mean: 0.01, scale: 1}\n",
     "sweep.parameters.trainer.learning_rate", "positive"),
    ("sweep:\n  parameters:\n    trainer.optimizer: {values: []}\n",
     "sweep.parameters.trainer.optimizer", "value"),
    ("sweep:\n  parameters:\n    trainer.optimizer: {values: [adam, sgd], probabilities: [0.5, 0.6]}\n",
     "sweep.parameters.trainer.optimizer", "1"),
    ("sweep:\n  parameters:\n    trainer.gamma: {min: abc, max: 0.99}\n",
     "sweep.parameters.trainer.gamma", "number"),
    ("sweep:\n  parameters:\n    trainer.learning_rat: {min: 0.001, max: 0.01}\n",
     "sweep.parameters.trainer.learning_rat", "trainer.learning_rate"),
    ("sweep:\n  trainer: {total_timestep: 10}\n", "sweep.trainer.total_timestep",
     "trainer.total_timesteps"),
    ("sweep:\n  method: bayesian\n", "sweep.method", "bayes"),
    ("sweep:\n  trainr: {gamma: 0.9}\n", "sweep.trainr", "trainer"),
    ("sweep:\n  parameters:\n    trainer.gamma: {min: 0.9, max: 0.99}\n  trainer: {gamma: 0.95}\n",
     "sweep.trainer.gamma", "remove it"),
    ("sweep:\n  program: train.py\n", "sweep.program", "not needed"),
    ("sweep: [1, 2\n", "", "YAML"),
    ("sweep:\n  method: grid\n  parameters:\n    trainer.gamma: {min: 0.9, max: 0.99}\n",
     "sweep.parameters.trainer.gamma", "grid_points"),
]


@pytest.mark.parametrize(("body", "key", "fix"), BAD)
def test_bad_sweep_files_exit_2_with_key_and_fix(cli, tmp_path: Path, body: str, key: str, fix: str) -> None:
    path = write(tmp_path, body)
    code, out, err = cli("validate", path)
    assert code == 2, out
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: ") and path in line
    assert key in line
    assert fix.lower() in line.lower()
    assert "Traceback" not in err


def test_warnings_name_the_fix(cli, tmp_path: Path) -> None:
    path = write(tmp_path, """
        sweep:
          parameters:
            trainer.learning_rate: {distribution: log_uniform, min: 0.0001, max: 0.01}
            trainer.ent_coef: {distribution: uniform, min: 0.00001, max: 0.1}
            trainer.gamma: {distribution: logit_normal, min: 0.0, max: 1.0, mean: 0.5, scale: 0.5}
            trainer.batch_size: {distribution: uniform_pow2, min: 100, max: 1000}
    """)
    code, out, err = cli("validate", path)
    assert code == 0, err
    assert "log_uniform_values" in err
    assert "log" in err.split("ent_coef", 1)[-1] if "ent_coef" in err else "decade" in err
    assert "1e-06" in err or "1e-6" in err or "clamp" in err.lower()
    assert "power" in err.lower()


def test_cli_subprocess_error_has_no_traceback(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "trainer: {learning_rate: 0.1}\n")
    proc = subprocess.run([sys.executable, "-m", "hydra_plugins.nested_sweeper._cli", "validate", path],
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "'trainer' at the root of a sweep file is not applied to sweep runs; move it under 'sweep.trainer'" in proc.stderr


def test_unknown_sweep_name_suggests(cli) -> None:
    code, _, err = cli("validate", "protein_workin")
    assert code == 2
    assert "protein_working" in err


def test_carbs_marker_in_the_config_resolves_to_its_centre_and_becomes_a_parameter(cli) -> None:
    from omegaconf import OmegaConf

    from hydra_plugins.nested_sweeper._cli import compose_config

    override = "trainer.learning_rate=${ss:log, 1e-5, 1e-1}"
    config = compose_config("conf", "train", [override])
    resolved = OmegaConf.create(config).trainer.learning_rate
    assert resolved == pytest.approx(1e-3)  # geometric mean of the range
    code, out, err = cli("validate", "empty", override)  # empty.yaml searches nothing
    assert code == 0, err
    row = next(line for line in out.splitlines() if "trainer.learning_rate" in line)
    assert "log_normal" in row and "1e-05" in row and "0.1" in row

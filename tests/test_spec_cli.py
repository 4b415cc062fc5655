"""Sweep files through `nested-sweep validate`: the shipped ones pass, bad ones fail clearly."""

from __future__ import annotations

import shutil
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
    assert "3 rounds × 1 run" in out and "1 runs" not in out


def test_nested_and_dotted_parameters_flatten_alike(tmp_path: Path) -> None:
    from nested_sweeper.spec.spec import load_spec

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
    from nested_sweeper.spec.spec import load_spec

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
    ("parameters: {trainer.gamma: {min: 0.9, max: 0.99}}\n", "parameters", "nested-sweep migrate"),  # a W&B file
    ("metric: reward\n", "metric", "sweep.metric"),
    ("method: random\n", "method", "sweep.method"),
    ("sweep:\n  parameters:\n    trainer.gamma: {distribution: unifrom, min: 0.9, max: 0.99}\n",
     "sweep.parameters.trainer.gamma.distribution", "did you mean uniform?"),
    ("sweep:\n  parameters:\n    trainer.gamma: {distribution: uniform, min: 0.9}\n",
     "sweep.parameters.trainer.gamma.max", "add max: 1"),
    ("sweep:\n  parameters:\n    trainer.gamma: {min: 0.99, max: 0.9}\n",
     "sweep.parameters.trainer.gamma", "swap"),
    ("sweep:\n  parameters:\n    trainer.learning_rate: {distribution: log_uniform_values, min: 0.0, max: 0.1}\n",
     "sweep.parameters.trainer.learning_rate.min", "use min > 0"),
    ("sweep:\n  parameters:\n    trainer.learning_rate: {distribution: log_normal, min: -1.0, max: 0.1, mean: 0.01, scale: 1}\n",
     "sweep.parameters.trainer.learning_rate.min", "use min > 0"),
    ("sweep:\n  parameters:\n    trainer.optimizer: {values: []}\n",
     "sweep.parameters.trainer.optimizer.values", "list at least one value"),
    ("sweep:\n  parameters:\n    trainer.optimizer: {values: [adam, sgd], probabilities: [0.5, 0.6]}\n",
     "sweep.parameters.trainer.optimizer.probabilities", "summing to 1"),
    ("sweep:\n  parameters:\n    trainer.gamma: {min: abc, max: 0.99}\n",
     "sweep.parameters.trainer.gamma.min", "write min as a number"),
    ("sweep:\n  parameters:\n    trainer.learning_rat: {min: 0.001, max: 0.01}\n",
     "sweep.parameters.trainer.learning_rat", "trainer.learning_rate"),
    ("sweep:\n  trainer: {total_timestep: 10}\n", "sweep.trainer.total_timestep",
     "trainer.total_timesteps"),
    ("sweep:\n  method: bayesian\n", "sweep.method", "bayes"),
    ("sweep:\n  trainr: {gamma: 0.9}\n", "sweep.trainr", "trainer"),
    ("sweep:\n  parameters:\n    trainer.gamma: {min: 0.9, max: 0.99}\n  trainer: {gamma: 0.95}\n",
     "sweep.trainer.gamma", "remove it"),
    ("sweep:\n  program: train.py\n", "sweep.program", "not needed"),
    ("sweep: [1, 2\n", None, "fix the YAML syntax"),
    ("sweep:\n  method: grid\n  parameters:\n    trainer.gamma: {min: 0.9, max: 0.99}\n",
     "sweep.parameters.trainer.gamma", "grid_points"),
    # CARBS near-misses name the corrected marker, in parameters and in fixed overrides
    ("sweep:\n  parameters:\n    trainer.batch_size: $pow2(1024, 32768)\n",
     "sweep.parameters.trainer.batch_size", "write it as ${ss:pow2, 1024, 32768}"),
    ("sweep:\n  trainer:\n    batch_size: $pow2(1024, 32768)\n",
     "sweep.trainer.batch_size", "write it as ${ss:pow2, 1024, 32768}"),
    ("sweep:\n  parameters:\n    trainer.gamma: {distribution: logit_normal, min: -0.1, max: 0.99}\n",
     "sweep.parameters.trainer.gamma.min", "use 0 < min < max < 1"),
    ("sweep:\n  parameters:\n    trainer.gamma: {distribution: logit_normal, min: 0.5, max: 1.5}\n",
     "sweep.parameters.trainer.gamma.max", "use 0 < min < max < 1"),
    ("sweep:\n  metric: {name: loss, goal: minimize}\n  goal: maximize\n",
     "sweep.goal", "keep one goal"),
    # a plain value must not replace a whole config node: the leaves are suggested
    ("sweep:\n  parameters:\n    env.game: {values: [1, 2]}\n",
     "sweep.parameters.env.game", "its leaves instead, e.g. env.game.width"),
    ("sweep:\n  parameters:\n    env.game: {value: 3}\n",
     "sweep.parameters.env.game", "e.g. env.game.width"),
    ("sweep:\n  parameters:\n    env.game: {min: 1, max: 4}\n",
     "sweep.parameters.env.game", "e.g. env.game.width"),
    ("sweep:\n  env: {game: 5}\n", "sweep.env.game", "e.g. env.game.width"),
    ("sweep:\n  env: 5\n", "sweep.env", "e.g. env.num_envs"),
    # a method's settings are checked by validate, not first at launch
    ("sweep:\n  method: protein\n  method_kwargs: {fit_restarts: many}\n  parameters:\n"
     "    trainer.learning_rate: {min: 0.001, max: 0.1}\n",
     "sweep.method_kwargs.fit_restarts", "e.g. fit_restarts: 3"),
    ("sweep:\n  method: protein\n  method_kwargs: {n_init: 0}\n  parameters:\n"
     "    trainer.learning_rate: {min: 0.001, max: 0.1}\n", "sweep.n_init", "e.g. n_init: 3"),
    ("sweep:\n  method: protein\n  method_kwargs: {prior_mean: low}\n  parameters:\n"
     "    trainer.learning_rate: {min: 0.001, max: 0.1}\n",
     "sweep.method_kwargs.prior_mean", "e.g. prior_mean: -0.25"),
]


@pytest.mark.parametrize(("body", "key", "fix"), BAD)
def test_bad_sweep_files_exit_2_with_key_and_fix(cli, tmp_path: Path, body: str, key: str, fix: str) -> None:
    path = write(tmp_path, body)
    code, out, err = cli("validate", path)
    assert code == 2, out
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"error: {path}: "), line
    # the key path comes right after the file (None: the problem has no key, e.g. bad YAML)
    assert line.startswith(f"error: {path}: {key}" if key else f"error: {path}: malformed YAML"), line
    problem, _, fix_text = line.partition("; ")
    assert fix.lower() in fix_text.lower(), line
    assert "Traceback" not in err


def test_warnings_name_the_key_and_the_fix(cli, tmp_path: Path) -> None:
    path = write(tmp_path, """
        sweep:
          parameters:
            trainer.learning_rate: {distribution: log_uniform, min: 0.0001, max: 0.01}
            trainer.ent_coef: {distribution: uniform, min: 0.00001, max: 0.1}
            trainer.gamma: {distribution: logit_normal, min: 0.0, max: 1.0, mean: 0.5, scale: 0.5}
            trainer.batch_size: {distribution: uniform_pow2, min: 100, max: 1000}
            trainer.minibatch_size: {distribution: log_uniform, min: 16, max: 256}
            trainer.vf_coef: {distribution: q_log_uniform, min: 0, max: 0.01, q: 0.001}
    """)
    code, out, err = cli("validate", path)
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.startswith("warning: ")]

    def warned(key: str) -> str:
        found = [line for line in lines if line.startswith(f"warning: {path}: sweep.parameters.{key}: ")]
        assert found, (key, err)
        return found[0]

    assert "use distribution: log_uniform_values" in warned("trainer.learning_rate.min")
    assert "use distribution: log_uniform_values" in warned("trainer.minibatch_size.max")
    assert "use distribution: q_log_uniform_values" in warned("trainer.vf_coef.min")
    assert "on a log scale" in warned("trainer.ent_coef.distribution")
    assert "clamped to [1e-06, 0.999999]" in warned("trainer.gamma.min")
    assert "write min: 128" in warned("trainer.batch_size.min")
    assert "write max: 512" in warned("trainer.batch_size.max")
    # the table shows the clamped logit bounds, not a rounded "1"
    row = next(line for line in out.splitlines() if "trainer.gamma" in line)
    assert "[1e-06, 0.999999] logit" in row


def scratch_conf(tmp_path: Path, root: Path) -> Path:
    """A copy of conf/ with a second trainer option that has a key ppo lacks."""
    conf = tmp_path / "conf"
    shutil.copytree(root / "conf", conf)
    ppo = (conf / "trainer" / "ppo.yaml").read_text()
    (conf / "trainer" / "ppo2.yaml").write_text(ppo + "extra_knob: 3\n")
    return conf


OVERRIDING = """
    defaults:
      - override /trainer: ppo2
    sweep:
      parameters:
        trainer.extra_knob: {values: [1, 2]}
"""
NOT_OVERRIDING = """
    sweep:
      parameters:
        trainer.extra_knob: {values: [1, 2]}
"""


@pytest.mark.parametrize("where", ["conf/sweep", "elsewhere"])
def test_validate_composes_the_sweep_files_defaults(cli, tmp_path: Path, root: Path, where: str) -> None:
    conf = scratch_conf(tmp_path, root)
    folder = tmp_path / where
    folder.mkdir(parents=True, exist_ok=True)
    path = write(folder, OVERRIDING, "ppo2_sweep.yaml")
    code, out, err = cli("validate", path, "--config-dir", str(conf))
    assert code == 0, err
    assert "trainer.extra_knob" in out
    # without the override the same parameter does not exist: the defaults list made it valid
    plain = write(folder, NOT_OVERRIDING, "plain_sweep.yaml")
    code, _, err = cli("validate", plain, "--config-dir", str(conf))
    assert code == 2
    assert "sweep.parameters.trainer.extra_knob: 'trainer.extra_knob' does not exist" in err


@pytest.mark.parametrize("where", ["conf/sweep", "elsewhere"])
def test_validate_refuses_a_bad_override_in_the_defaults(cli, tmp_path: Path, root: Path, where: str) -> None:
    conf = scratch_conf(tmp_path, root)
    folder = tmp_path / where
    folder.mkdir(parents=True, exist_ok=True)
    path = write(folder, "defaults:\n  - override /env: nope\nsweep: {}\n", "bad_env.yaml")
    code, _, err = cli("validate", path, "--config-dir", str(conf))
    assert code == 2 and "Traceback" not in err
    line = err.strip()
    assert line.count("\n") == 0
    assert f"cannot compose the config with {path}" in line
    assert "Could not find 'env/nope'" in line and "Available options in 'env': altar_grid" in line


def test_a_file_outside_conf_keeps_the_primary_search_path(cli, tmp_path: Path, root: Path) -> None:
    conf = scratch_conf(tmp_path, root)
    extra = tmp_path / "extra"
    (extra / "trainer").mkdir(parents=True)
    (conf / "trainer" / "ppo2.yaml").rename(extra / "trainer" / "ppo2.yaml")
    train = (conf / "train.yaml").read_text()
    assert train.rstrip().endswith("chdir: false")  # the hydra block comes last
    (conf / "train.yaml").write_text(train + f"  searchpath:\n    - file://{extra}\n")
    path = write(tmp_path, OVERRIDING, "outside.yaml")
    code, out, err = cli("validate", path, "--config-dir", str(conf))
    assert code == 0, err
    assert "trainer.extra_knob" in out


def test_a_file_outside_conf_is_validated_not_its_namesake(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "rollout_count: 7\nsweep: {method: random}\n", "quick.yaml")
    code, out, err = cli("validate", path)
    assert code == 0, err
    text = " ".join(out.split())  # rich wraps the long first line
    assert "method random, maximize 'reward', 7 rounds × 1 run" in text


def test_nested_fixed_overrides_into_leaves_still_work(cli, tmp_path: Path) -> None:
    path = write(tmp_path, """
        sweep:
          env: {game: {width: 5, objects: {altar: {count: 3}}}}
          parameters:
            env.game.height: {values: [4, 8]}
    """)
    code, out, err = cli("validate", path)
    assert code == 0, err
    assert "env.game.objects.altar.count" in out and "env.game.width" in out


def test_validate_keeps_hydras_fix(cli) -> None:
    code, _, err = cli("validate", "quick", "trainer.nope=1")
    assert code == 2 and err.strip().count("\n") == 0
    assert "Could not override 'trainer.nope'; To append to your config use +trainer.nope=1" in err
    code, _, err = cli("validate", "quick", "env=nope")
    assert code == 2 and "Available options in 'env': altar_grid" in err
    assert "Config search path" not in err


def test_paths_that_are_not_sweep_files_are_named_plainly(cli, tmp_path: Path) -> None:
    (tmp_path / "noext").write_text("sweep: {}\n")
    (tmp_path / "near.yaml").write_text("# @package _global_\nsweep: {}\n")
    cases = {  # argument: words of the problem and of the fix
        str(tmp_path / "missing"): (f"no such file {tmp_path / 'missing'}", "check the path"),
        str(tmp_path): (f"{tmp_path} is a directory, not a .yaml file", "near.yaml"),
        str(tmp_path / "noext"): (f"{tmp_path / 'noext'} is not a .yaml file", "end in .yaml"),
        str(tmp_path / "near"): ("no such file", f"did you mean {tmp_path / 'near.yaml'}?"),
    }
    for arg, (problem, fix) in cases.items():
        code, _, err = cli("validate", arg)
        assert code == 2, arg
        line = err.strip()
        assert line.startswith(f"error: sweep: {problem}"), line
        assert fix in line.partition("; ")[2], line
        assert "sweep/" not in line.partition("; ")[0], line  # not 'sweep//tmp/....yaml'


def test_cli_subprocess_error_has_no_traceback(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "trainer: {learning_rate: 0.1}\n")
    proc = subprocess.run([sys.executable, "-m", "nested_sweeper.cli", "validate", path],
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

    from nested_sweeper.cli import compose_config

    override = "trainer.learning_rate=${ss:log, 1e-5, 1e-1}"
    config = compose_config("conf", "train", [override])
    resolved = OmegaConf.create(config).trainer.learning_rate
    assert resolved == pytest.approx(1e-3)  # geometric mean of the range
    code, out, err = cli("validate", "empty", override)  # empty.yaml searches nothing
    assert code == 0, err
    row = next(line for line in out.splitlines() if "trainer.learning_rate" in line)
    assert "log_normal" in row and "1e-05" in row and "0.1" in row


def test_a_wrong_config_name_blames_config_name(cli, tmp_path: Path) -> None:
    code, _, err = cli("validate", "quick", "--config-name", "tran")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: --config-name: no config 'tran.yaml' in conf")
    assert "did you mean 'train'?" in err and "--config-dir" not in err
    # A directory without any primary config is the wrong directory, and says so.
    (tmp_path / "sweep").mkdir()
    shutil.copyfile(Path("conf/sweep/quick.yaml"), tmp_path / "sweep" / "quick.yaml")
    code, _, err = cli("validate", "quick", "--config-dir", str(tmp_path))
    assert code == 2 and err.startswith("error: --config-dir: no config 'train.yaml'")


def test_a_wandb_sweep_file_points_to_migrate(cli, tmp_path: Path) -> None:
    path = tmp_path / "wandb_sweep.yaml"
    path.write_text(textwrap.dedent("""\
        method: bayes
        metric: {name: reward, goal: maximize}
        parameters:
          trainer.learning_rate: {min: 0.0001, max: 0.01}
    """))
    code, _, err = cli("validate", str(path))
    assert code == 2 and err.count("\n") == 1
    assert "W&B sweep file" in err  # the whole file, not its first misplaced key
    assert f"convert it with `nested-sweep migrate {path}`" in err
    # What migrate writes then validates: the fix the error names works.
    code, out, _ = cli("migrate", str(path), "--in-place")
    assert code == 0
    code, out, err = cli("validate", str(path))
    assert code == 0, err
    assert "valid — method bayes" in out

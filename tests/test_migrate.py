"""`nested-sweep migrate`: legacy CARBS, CARBS blocks, root overrides and W&B files."""

from __future__ import annotations

import io
import math
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from nested_sweeper.errors import SweepError
from nested_sweeper.migrate.migrate import migrate_main, migrate_text

ROOT = Path(__file__).resolve().parents[1]
LEGACY = ROOT / "tests" / "data" / "legacy"
FIXTURES = ["carbs_markers", "carbs_params", "root_overrides", "wandb_sweep"]
ALLOWED_ROOT = {"sweep", "rollout_count", "num_samples", "defaults"}


def migrate_fixture(name: str) -> tuple[Any, dict[str, Any], str]:
    """(Migration, the output loaded as Hydra loads it, the source text)."""
    source = (LEGACY / f"{name}.yaml").read_text()
    result = migrate_text(source, file=f"{name}.yaml")
    loaded = OmegaConf.to_container(OmegaConf.create(result.text), resolve=False)
    return result, loaded, source


def distributions(loaded: dict[str, Any]) -> dict[str, Any]:
    from nested_sweeper.space import parse_distribution

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a migrated file is clean: no warnings either
        return {
            path: parse_distribution(block, key=path)
            for path, block in loaded["sweep"]["parameters"].items()
        }


@pytest.fixture(scope="module")
def composed() -> dict[str, Any]:
    """The composed training config (no sweep), as `validate` checks paths against it."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        cfg = compose("train")
    return OmegaConf.to_container(cfg, resolve=False)


def test_carbs_markers_migrate_with_distributions_bounds_and_centres() -> None:
    result, out, source = migrate_fixture("carbs_markers")
    assert result.kind == "carbs"
    assert result.text.splitlines()[0] == "# @package _global_"
    assert set(out) <= ALLOWED_ROOT
    sweep = out["sweep"]
    assert (sweep["method"], sweep["metric"], sweep["goal"]) == ("protein", "reward", "maximize")
    d = distributions(out)
    eps = 1e-6
    lam = (math.log(0.9 / 0.1) + math.log(0.999 / 0.001)) / 2
    expected = {  # path: (distribution, min, max, centre)
        "trainer.learning_rate": ("log_normal", 1e-5, 1e-1, math.sqrt(1e-5 * 1e-1)),
        "trainer.clip_coef": ("uniform", 0.0, 0.6, 0.3),
        "trainer.batch_size": ("uniform_pow2", 1024, 8192, 2048),  # explicit centre
        "trainer.update_epochs": ("int_uniform", 1, 8, 5),  # 4.5 rounded half up
        "trainer.gae_lambda": ("logit_normal", eps, 1 - eps, 0.5),  # [0.0, 1.0] clamped
        "trainer.gamma": ("logit_normal", 0.9, 0.999, 1 / (1 + math.exp(-lam))),  # $<ss:...>
    }
    assert list(d) == list(expected)
    for path, (kind, lo, hi, centre) in expected.items():
        assert d[path].kind == kind, path
        assert (d[path].low, d[path].high) == pytest.approx((lo, hi), rel=1e-12), path
        assert d[path].center == pytest.approx(centre, rel=1e-9), path
        assert d[path].scale == 0.5
    # the non-marker root-level overrides are fixed overrides under sweep.<group>
    assert sweep["trainer"] == {"total_timesteps": 4096, "minibatch_size": 256, "optimizer": "adam"}
    assert sweep["env"] == {"num_envs": 16, "game": {"max_steps": 64}}
    for comment in [
        "# Legacy CARBS sweep",
        "# Adam step size",
        "# PPO epochs per batch",
        "# keep runs short",
        "# vectorized copies",
    ]:
        assert comment in source and comment in result.text
    changes = "\n".join(result.changes)
    assert "trainer.gae_lambda: ${ss:logit, 0.0, 1.0}" in changes
    assert "moved inside (0, 1)" in changes
    assert "trainer: root-level overrides moved under sweep.trainer" in changes
    assert "# @package _global_" in changes


def test_wandb_sweep_file_migrates() -> None:
    result, out, source = migrate_fixture("wandb_sweep")
    assert result.kind == "wandb"
    assert set(out) <= ALLOWED_ROOT
    assert (out["rollout_count"], out["num_samples"]) == (20, 1)  # run_cap: 20
    sweep = out["sweep"]
    assert (sweep["method"], sweep["metric"], sweep["goal"]) == ("bayes", "reward", "maximize")
    original = yaml.safe_load(source)
    assert (
        sweep["early_terminate"]
        == original["early_terminate"]
        == {"type": "hyperband", "min_iter": 3, "eta": 2}
    )
    # nested `parameters:` blocks flatten; `value:` parameters become fixed overrides
    assert list(sweep["parameters"]) == [
        "trainer.learning_rate",
        "trainer.clip_coef",
        "trainer.update_epochs",
        "trainer.optimizer",
        "env.num_envs",
    ]
    assert sweep["trainer"] == {"total_timesteps": 4096}
    assert sweep["env"] == {"game": {"max_steps": 64}}
    d = distributions(out)
    assert d["trainer.learning_rate"].kind == "log_uniform_values"
    assert (d["trainer.learning_rate"].low, d["trainer.learning_rate"].high) == (1e-4, 1e-2)
    assert d["trainer.clip_coef"].kind == "q_uniform" and d["trainer.clip_coef"].q == 0.05
    assert d["trainer.update_epochs"].kind == "int_uniform"
    assert d["trainer.update_epochs"].grid_values() == list(range(1, 9))
    assert d["trainer.optimizer"].grid_values() == ["adam", "sgd"]
    assert d["env.num_envs"].grid_values() == [8, 16, 32]
    assert "program" not in result.text and "args_no_hyphens" not in result.text
    changes = "\n".join(result.changes)
    assert "program: not needed" in changes and "command: not needed" in changes
    assert "run_cap: 20 -> rollout_count: 20, num_samples: 1" in changes
    assert "sweep.metric: reward, sweep.goal: maximize" in changes
    for comment in [
        "# W&B sweep of the PPO trainer",
        "# 1e-4 .. 1e-2",
        "# short runs",
        "# total runs",
    ]:
        assert comment in result.text


def test_carbs_parameter_blocks_migrate() -> None:
    result, out, _ = migrate_fixture("carbs_params")
    assert result.kind == "carbs-params"
    d = distributions(out)
    assert {p: x.kind for p, x in d.items()} == {
        "trainer.learning_rate": "log_normal",
        "trainer.batch_size": "uniform_pow2",
        "trainer.update_epochs": "int_uniform",  # linear + is_int
        "trainer.gamma": "logit_normal",
        "trainer.vf_coef": "uniform",
        "env.num_envs": "uniform_pow2",
    }
    assert d["trainer.learning_rate"].center == pytest.approx(3e-4)  # search_center
    assert d["trainer.gamma"].center == pytest.approx(0.99)
    assert d["trainer.vf_coef"].scale == 0.3  # the block's own scale is kept
    assert d["trainer.update_epochs"].grid_values() == list(range(1, 11))
    assert out["sweep"]["trainer"] == {"total_timesteps": 4096}
    assert "# the old default" in result.text


def test_root_overrides_merge_into_the_sweep_block() -> None:
    result, out, source = migrate_fixture("root_overrides")
    assert result.kind == "root-overrides"
    assert out == {
        "rollout_count": 4,
        "sweep": {
            **yaml.safe_load(source)["sweep"],
            "trainer": {"ent_coef": 0.01, "total_timesteps": 2048},
            "env": {"game": {"max_steps": 48}},
        },
    }
    assert "# short runs" in result.text
    assert result.changes == [
        "trainer: root-level overrides moved under sweep.trainer",
        "env: root-level overrides moved under sweep.env",
    ]


@pytest.mark.parametrize("name", FIXTURES)
def test_migrated_files_validate_against_the_config(
    name: str, composed: dict, tmp_path: Path
) -> None:
    from nested_sweeper.spec.spec import load_spec

    result, _, _ = migrate_fixture(name)
    path = tmp_path / f"{name}.yaml"
    path.write_text(result.text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = load_spec(path, config=composed)
    assert spec.parameters and all(p.startswith(("trainer.", "env.")) for p in spec.parameters)


@pytest.mark.parametrize("name", FIXTURES)
def test_migration_is_idempotent(name: str) -> None:
    first, _, _ = migrate_fixture(name)
    second = migrate_text(first.text)
    assert (second.kind, second.changes, second.text) == ("none", [], first.text)


def test_shipped_sweep_files_need_no_migration() -> None:
    import subprocess

    # the files the repo ships (git-tracked), not scratch files a run left in conf/sweep
    listed = subprocess.run(["git", "ls-files", "conf/sweep/*.yaml"], cwd=ROOT, text=True,
                            capture_output=True, check=True).stdout.split()
    shipped = sorted(ROOT / name for name in listed)
    assert shipped
    for path in shipped:
        text = path.read_text()
        result = migrate_text(text, file=str(path))
        assert (result.kind, result.changes, result.text) == ("none", [], text), path


def test_a_missing_package_line_alone_needs_no_migration() -> None:
    # the loader reads a header-less nested file as Hydra composes it (under `sweep.`)
    text = "sweep:  # the search\n  method: random\n  parameters:\n    trainer.gamma: {min: 0.9, max: 0.99}\n"
    result = migrate_text(text)
    assert (result.text, result.kind, result.changes) == (text, "none", [])
    legacy = migrate_text("metric: reward\n" + text.replace("  method: random\n", ""))
    assert legacy.text.startswith("# @package _global_\n")  # a migrated file gets it
    assert legacy.changes[0].startswith("added '# @package _global_'")


def test_floats_are_floats_to_every_yaml_reader() -> None:
    result, _, _ = migrate_fixture("carbs_markers")
    # PyYAML (YAML 1.1) reads `1e-05` as a string; the output must say `1.0e-05`.
    block = yaml.safe_load(result.text)["sweep"]["parameters"]["trainer.learning_rate"]
    assert isinstance(block["min"], float) and block["min"] == 1e-5


def migrate(body: str) -> Any:
    return migrate_text(textwrap.dedent(body), file="old.yaml")


def test_unknown_root_keys_and_seed_move_with_a_note() -> None:
    result = migrate("""
        seed: 3
        num_random_samples: 5
        eval_suite: {episodes: 4}
        trainer:
          learning_rate: ${ss:log, 1e-4, 1e-2}
    """)
    out = yaml.safe_load(result.text)
    # CARBS's warm-up count is our protein's n_init, not a config override
    assert out["sweep"]["method_kwargs"] == {"n_init": 5}
    assert "num_random_samples" not in out["sweep"]
    assert out["sweep"]["eval_suite"] == {"episodes": 4}
    assert out["sweep"]["parameters"]["seed"] == {"value": 3}  # the run's seed, not the search's
    assert "trainer" not in out["sweep"]  # it held only a marker
    assert any("eval_suite" in c and "not a config group" in c for c in result.changes)


def test_markers_under_sweep_groups_and_in_parameters_become_parameters() -> None:
    result = migrate("""
        # @package _global_
        sweep:
          parameters:
            trainer:
              parameters:
                learning_rate: ${ss:log, 1e-5, 1e-1}  # lr
            env.num_envs: {values: [8, 16]}
          trainer:
            ent_coef: $<ss:linear, 0.0, 0.1>
            gamma: 0.99
    """)
    out = yaml.safe_load(result.text)
    params = out["sweep"]["parameters"]
    # the nested block is kept (it is valid) with its marker converted in place
    assert params["trainer"]["parameters"]["learning_rate"]["distribution"] == "log_normal"
    assert params["trainer.ent_coef"]["mean"] == pytest.approx(0.05)
    assert out["sweep"]["trainer"] == {"gamma": 0.99}
    assert "# lr" in result.text and result.kind == "carbs"


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ("sweep:\n  method: [bayes\n", "line 3"),  # unclosed flow sequence
        ("trainer:\n  a: 1\n   b: 2\n", "line 3, column 5"),  # the colon after b
        ("- a\n- b\n", "a sweep file is a mapping"),
        ("", "empty"),
        ("# @package sweep\nmethod: bayes\n", "# @package sweep"),
        ("method: bayes\nsweep:\n  method: grid\n", "both at the root"),
        ("trainer:\n  gamma: 0.9\nsweep:\n  trainer:\n    gamma: 0.95\n", "set twice"),
        (
            "trainer:\n  gamma: 0.9\nparameters:\n  trainer.gamma: {min: 0.9, max: 0.99}\n",
            "both a parameter and a fixed override",
        ),
        ("trainer:\n  sizes:\n    - ${ss:int, 1, 4}\n    - 8\n", "inside a list"),
        ("parameters:\n  trainer.gamma: {space: cubic, min: 0.9, max: 0.99}\n", "space is one of"),
        (
            "parameters:\n  trainer.gamma: {space: logit, is_int: true, min: 0.9, max: 0.99}\n",
            "is_int",
        ),
        ("run_cap: 5\nrollout_count: 3\n", "run_cap and rollout_count"),
        ("trainer:\n  batch_size: $pow2(1024, 32768)\n", "${ss:pow2, 1024, 32768}"),
        ("parameters:\n  trainer.optimizer: [adam, sgd]\n", "{values: ['adam', 'sgd']}"),
    ],
)
def test_unconvertible_input_is_one_clear_error(body: str, shown: str) -> None:
    with pytest.raises(SweepError) as info:
        migrate_text(body, file="old.yaml")
    message = str(info.value)
    assert message.startswith("old.yaml: ") and shown in message
    assert "\n" not in message


def write_legacy(tmp_path: Path, name: str = "carbs_markers") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text((LEGACY / f"{name}.yaml").read_text())
    return path


def test_migrate_main_prints_yaml_and_lists_changes(tmp_path: Path) -> None:
    path = write_legacy(tmp_path)
    before = path.read_text()
    out, err = io.StringIO(), io.StringIO()
    assert migrate_main([str(path)], in_place=False, out=out, err=err) == 0
    assert path.read_text() == before  # nothing written
    assert out.getvalue() == migrate_text(before, file=str(path)).text  # stdout is pure YAML
    assert f"{path}: 12 changes (carbs):" in err.getvalue()
    assert "  - trainer.learning_rate: ${ss:log, 1e-5, 1e-1} ->" in err.getvalue()


def test_migrate_main_in_place(tmp_path: Path) -> None:
    path = write_legacy(tmp_path, "wandb_sweep")
    out, err = io.StringIO(), io.StringIO()
    assert migrate_main([str(path)], in_place=True, out=out, err=err) == 0
    assert err.getvalue() == ""
    assert path.read_text().startswith("# @package _global_\n")
    assert "run_cap: 20 -> rollout_count: 20" in out.getvalue()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp files left
    again = io.StringIO()
    assert migrate_main([str(path)], in_place=True, out=again, err=err) == 0
    assert again.getvalue() == f"{path}: already in the nested format\n"


def test_migrate_main_reports_errors_on_one_line_and_goes_on(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  lr: ${ss:exp, 1, 2}\n")
    good = write_legacy(tmp_path, "root_overrides")
    out, err = io.StringIO(), io.StringIO()
    code = migrate_main(
        [str(bad), str(tmp_path / "missing.yaml"), str(good)], in_place=True, out=out, err=err
    )
    assert code == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 2 and "Traceback" not in err.getvalue()
    assert lines[0].startswith(f"error: {bad}: trainer.lr: unknown CARBS kind 'exp'")
    assert "missing.yaml" in lines[1]
    assert f"{good}: migrated (root-overrides)" in out.getvalue()
    assert bad.read_text() == "trainer:\n  lr: ${ss:exp, 1, 2}\n"


def test_cli_migrate_subcommand(cli, tmp_path: Path) -> None:
    path = write_legacy(tmp_path, "carbs_params")
    code, out, err = cli("migrate", str(path))
    assert code == 0
    assert out.startswith("# @package _global_") and "changes (carbs-params)" in err


def test_unreadable_paths_are_one_clear_error_naming_the_file(cli, tmp_path: Path) -> None:
    missing, folder = tmp_path / "missing.yaml", tmp_path / "folder"
    folder.mkdir()
    for path, problem in ((missing, "no such file"), (folder, "is a directory, not a sweep file")):
        code, out, err = cli("migrate", str(path))
        assert code == 2 and out == ""
        assert err == f"error: {path}: {problem}; check the path: migrate takes sweep YAML files, " \
                      "e.g. conf/sweep/NAME.yaml\n"
        assert "No such file or directory" not in err


def test_wandb_file_without_run_cap_lists_the_default_rollout_count() -> None:
    from nested_sweeper.schema import DEFAULT_NUM_SAMPLES, DEFAULT_ROLLOUT_COUNT
    from nested_sweeper.spec.spec import parse_spec

    body = "method: random\nmetric: {name: reward, goal: maximize}\nparameters:\n" \
           "  trainer.gamma: {min: 0.9, max: 0.99}\n"
    result = migrate_text(body, file="w.yaml")
    assert result.kind == "wandb"
    note = [c for c in result.changes if c.startswith("no run_cap: ")]
    assert note == [
        f"no run_cap: rollout_count defaults to {DEFAULT_ROLLOUT_COUNT} (num_samples "
        f"{DEFAULT_NUM_SAMPLES}: {DEFAULT_ROLLOUT_COUNT * DEFAULT_NUM_SAMPLES} runs in all); "
        "set rollout_count: N to choose the budget"
    ]
    # and that is what the migrated file runs
    spec = parse_spec(yaml.safe_load(result.text), file="w.yaml")
    assert (spec.rollout_count, spec.num_samples) == (DEFAULT_ROLLOUT_COUNT, DEFAULT_NUM_SAMPLES)
    # a budget given either way needs no note
    for counts in ("rollout_count: 4\n", "sweep: {num_samples: 2}\n"):
        again = migrate_text(body + counts, file="w.yaml")
        assert not any(c.startswith("no run_cap") for c in again.changes)


# --- issue 14: shapes of real legacy files ----------------------------------------------------


def load(text: str) -> Any:
    """The output as Hydra reads it (OmegaConf: `1e-3` is a float, as the legacy file meant)."""
    return OmegaConf.to_container(OmegaConf.create(text), resolve=False)


def params_of(result: Any) -> dict[str, Any]:
    return load(result.text)["sweep"]["parameters"]


def test_a_distribution_directly_under_sweep_is_a_parameter() -> None:
    result = migrate("""
        sweep:
          trainer:
            optimizer:
              learning_rate: {distribution: log_normal, min: 1e-3, max: 5e-3, mean: 2e-3, scale: 1.0}
            total_timesteps: 5000
          batch_size: {distribution: int_uniform, min: 16, max: 128, mean: 64, scale: 1}
    """)
    out = load(result.text)["sweep"]
    assert out["parameters"]["trainer.optimizer.learning_rate"] == {
        "distribution": "log_normal", "min": 1e-3, "max": 5e-3, "mean": 2e-3, "scale": 1.0}
    assert out["parameters"]["batch_size"]["distribution"] == "int_uniform"
    assert out["trainer"] == {"total_timesteps": 5000}  # the fixed override stays fixed


def test_protein_scale_auto_and_time_become_numbers() -> None:
    result = migrate("""
        parameters:
          trainer:
            lr: {distribution: log_normal, min: 1e-5, max: 1e-1, mean: 1e-3, scale: auto}
            steps: {distribution: log_normal, min: 1e6, max: 1.6e7, mean: 4e6, scale: time}
    """)
    p = params_of(result)
    assert p["trainer.lr"]["scale"] == 0.5
    assert p["trainer.steps"]["scale"] == pytest.approx(1 / math.log2(16), rel=1e-9)
    assert any("scale: time -> 0.25" in c for c in result.changes)


def test_scale_time_outside_log_normal_is_refused() -> None:
    with pytest.raises(SweepError, match=r"sweep.parameters.trainer.n.scale: scale 'time'"):
        migrate("parameters: {trainer: {n: {distribution: int_uniform, min: 1, max: 8, "
                "mean: 2, scale: time}}}\n")


def test_protein_block_maps_to_method_kwargs_or_is_dropped_with_its_reason() -> None:
    result = migrate("""
        protein:
          num_random_samples: 7
          max_suggestion_cost: 1800
          seed_with_search_center: false
          expansion_rate: 0.25
          resample_frequency: 5
        metric: reward
        parameters:
          trainer.lr: {distribution: log_normal, min: 1e-5, max: 1e-2, mean: 1e-3, scale: auto}
    """)
    out = load(result.text)["sweep"]
    assert out["method_kwargs"] == {"n_init": 7, "max_cost": 1800, "seed_with_search_center": False}
    assert "protein" not in out and "method" not in out  # no method: protein, the default
    changes = "\n".join(result.changes)
    assert "protein.expansion_rate: 0.25 dropped (no equivalent:" in changes
    assert "protein.resample_frequency: 5 dropped (no equivalent:" in changes


def test_the_mapped_settings_are_ones_our_protein_takes() -> None:
    from nested_sweeper.search.protein import Protein

    sp = {"x": parse({"min": 0.0, "max": 1.0, "mean": 0.9})}
    m = Protein(sp, n_init=7, max_cost=1800, seed_with_search_center=False)
    assert (m.n_init, m.max_cost, m.seed_with_search_center) == (7, 1800.0, False)
    assert m.suggest([], 1)[0]["x"] != 0.9  # no search centre first
    assert Protein(sp).suggest([], 1)[0]["x"] == 0.9
    with pytest.raises(SweepError, match="max_cost must be a positive number"):
        Protein(sp, max_cost=0)


def test_max_cost_keeps_suggestions_out_of_the_costly_region() -> None:
    from nested_sweeper.records import TrialRecord, TrialState
    from nested_sweeper.search.protein import Protein

    sp = {"x": parse({"min": 0.0, "max": 1.0})}
    xs = [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95]
    # the score grows with x, and so does the cost: exp(5x) runs from 1 to 148
    history = [TrialRecord(i, {"x": x}, TrialState.COMPLETE, x, math.exp(5 * x))
               for i, x in enumerate(xs)]
    free = Protein(sp, cost_weight=0.0).suggest(history, 1)[0]["x"]
    capped = Protein(sp, cost_weight=0.0, max_cost=10.0).suggest(history, 1)[0]["x"]
    assert free > 0.8
    assert math.exp(5 * capped) < 20.0  # log(10)/5 = 0.46; the model's cost may be a bit off


def parse(block: dict[str, Any]) -> Any:
    from nested_sweeper.space import parse_distribution

    return parse_distribution(block)


def test_settings_map_per_method_and_carbs_runner_keys_are_dropped_with_reasons() -> None:
    result = migrate("""
        method: bayes
        metric: reward
        num_random_samples: 12
        resume: true
        max_observations_to_load: 100
        protein: {max_suggestion_cost: 600}
        parameters:
          trainer.lr: {distribution: log_normal, min: 1e-5, max: 1e-2, mean: 1e-3, scale: 0.5}
    """)
    out = load(result.text)["sweep"]
    assert out["method"] == "bayes"  # kept as the file says ...
    assert out["method_kwargs"] == {"n_startup_trials": 12}  # bayes's random warm-up
    changes = "\n".join(result.changes)
    assert "sweep.method: bayes kept as the file says" in changes  # ... and noted
    assert "resume: True dropped (resuming is automatic" in changes
    assert "max_observations_to_load: 100 dropped" in changes
    assert "protein.max_suggestion_cost: 600 dropped (the file's method is bayes" in changes


@pytest.mark.parametrize(
    ("body", "key", "fix"),
    [
        ("method: ax\nparameters: {lr: {min: 0.1, max: 1.0}}\n", "sweep.method",
         "use one of grid, random, bayes, protein"),
        ("program: t.py\nrun_cap: '20'\nparameters: {lr: {min: 0.1, max: 1.0}}\n", "run_cap",
         "run_cap: 20"),
        ("program: t.py\nrun_cap: 2.5\nparameters: {lr: {min: 0.1, max: 1.0}}\n", "run_cap",
         "run_cap: 20"),
        ("program: t.py\nparameters: {opt: {values: adam}}\n", "sweep.parameters.opt.values",
         "values: [adam]"),
        ("program: t.py\nparameters: {d: {distribution: normal, min: 0, max: 1}}\n",
         "sweep.parameters.d.distribution", "mu: M, sigma: S"),
        ("parameters: {trainer: {lr: {min: 0.1, max: 0.5, search_center: 0.2}}}\n",
         "sweep.parameters.trainer.lr", "add space:"),
        ("protein: {gp_iters: 3}\n", "protein.gp_iters", "remove it"),
        ("program: t.py\ncommand: [python, t.py, 'lr=0.1,0.2']\n", "command", "values: [0.1,0.2]"),
        ("parameters: {b: {distribution: uniform_pow2, min: 3, max: 9, mean: 6}}\n",
         "sweep.parameters.b", "if these are exponents write min: 8, max: 512, mean: 64"),
    ],
)
def test_w_and_b_and_protein_only_features_are_clean_refusals(body: str, key: str, fix: str) -> None:
    with pytest.raises(SweepError) as caught:
        migrate_text(body, file="old.yaml")
    assert caught.value.key == key and fix in (caught.value.fix or ""), str(caught.value)


def test_command_overrides_become_fixed_overrides_and_every_dropped_word_is_named() -> None:
    result = migrate("""
        program: train.py
        method: random
        parameters: {trainer.lr: {min: 0.001, max: 0.1}}
        command:
          - ${env}
          - python
          - ${program}
          - --config-name
          - small
          - +num_gpus=1
          - ++wandb_enabled=True
          - trainer.total_timesteps=2048
          - --verbose
          - ${args_no_hyphens}
    """)
    out = load(result.text)["sweep"]
    assert out["num_gpus"] == 1 and out["wandb_enabled"] is True
    assert out["trainer"] == {"total_timesteps": 2048}
    dropped = next(c for c in result.changes if c.startswith("command: not needed"))
    for word in ("'${env}'", "'python'", "--config-name small", "'--verbose'", "'${args_no_hyphens}'"):
        assert word in dropped


def test_method_aliases_map_with_a_note() -> None:
    result = migrate("sweep:\n  method: Protein\n  train:\n    lr: {distribution: uniform, "
                     "min: 0.1, max: 0.5, mean: 0.2, scale: auto}\n")
    assert load(result.text)["sweep"]["method"] == "protein"
    assert "sweep.method: Protein -> protein (our names are lower case)" in result.changes
    carbs = migrate("method: carbs\ntrainer:\n  lr: ${ss:log, 1e-4, 1e-2}\n")
    assert load(carbs.text)["sweep"]["method"] == "protein"


def test_is_pow2_blocks_and_choice_markers_become_parameters() -> None:
    result = migrate("""
        parameters:
          trainer:
            batch_size: {space: log, is_pow2: true, min: 1024, max: 8192, search_center: 2048}
        trainer:
          optimizer: ${ss:choice, adam, muon, 'sgd momentum'}
          layers: ${ss:choice, 1, 2, 4}
    """)
    p = params_of(result)
    assert p["trainer.batch_size"] == {"distribution": "uniform_pow2", "min": 1024, "max": 8192,
                                       "mean": 2048, "scale": 0.5}
    assert p["trainer.optimizer"] == {"values": ["adam", "muon", "sgd momentum"]}
    assert p["trainer.layers"] == {"values": [1, 2, 4]}


def test_a_misspelled_pow2_marker_is_refused_with_the_right_spelling() -> None:
    with pytest.raises(SweepError) as caught:
        migrate("trainer:\n  mb: $pow2(1024, 32768)\n")
    assert caught.value.key == "trainer.mb"
    assert "write it as ${ss:pow2, 1024, 32768}" in (caught.value.fix or "")


def test_logit_centre_is_the_middle_of_the_bounds_when_a_bound_is_on_one() -> None:
    result = migrate("""
        parameters:
          trainer:
            gamma: {space: logit, min: 0.05, max: 1.0}
            lam: {space: logit, min: 0.9, max: 0.999}
    """)
    p = params_of(result)
    assert p["trainer.gamma"]["mean"] == pytest.approx(0.525, rel=1e-9)  # not 0.9957
    assert p["trainer.gamma"]["max"] == pytest.approx(1 - 1e-6)  # clamped: logit needs it
    assert p["trainer.gamma"]["min"] == 0.05  # not clamped: it does not
    # inside (0, 1) the centre stays the logit-space middle, as CARBS searches it
    mid = 1 / (1 + math.exp(-(math.log(0.9 / 0.1) + math.log(0.999 / 0.001)) / 2))
    assert p["trainer.lam"]["mean"] == pytest.approx(mid, rel=1e-9)


def test_commented_out_blocks_stay_on_their_own_lines_in_place() -> None:
    result = migrate("""
        parameters:
          trainer:
            learning_rate:
              space: log
              min: 1e-5
              max: 1e-1
            # clip_coef:
            #   space: logit
            #   min: 0.0
            update_epochs:
              space: linear
              is_int: true
              min: 1
              max: 3
    """)
    lines = result.text.splitlines()
    i = lines.index("    # clip_coef:")
    assert lines[i + 1 : i + 3] == ["    #   space: logit", "    #   min: 0.0"]
    assert lines[i - 1].startswith("    trainer.learning_rate: {") and "#" not in lines[i - 1]
    assert lines[i + 3].startswith("    trainer.update_epochs: {")


def test_a_comment_travels_with_the_key_it_stood_above() -> None:
    result = migrate("""
        # @package _global_
        sweep:
          trainer:
            # the step size matters most
            optimizer:
              learning_rate: {distribution: log_normal, min: 5e-4, max: 5e-3, mean: 1e-3, scale: 1.0}
            # discount: a narrow range
            gamma: {distribution: uniform, min: 0.95, max: 0.995, mean: 0.99, scale: 1.0}
            total_timesteps: 5000  # short runs
        # keep episodes short
        env:
          max_steps: 50
    """)
    lines = result.text.splitlines()
    assert lines.count("    # the step size matters most") == 1
    at = lines.index("    # the step size matters most")
    assert lines[at + 1].startswith("    trainer.optimizer.learning_rate:")
    at = lines.index("    # discount: a narrow range")
    assert lines[at + 1].startswith("    trainer.gamma:")
    at = lines.index("  # keep episodes short")
    assert lines[at + 1] == "  env:"
    assert "    total_timesteps: 5000  # short runs" in lines
    assert not lines[-1].lstrip().startswith("#")  # nothing left behind at the end


def test_a_one_point_marker_is_the_fixed_value_it_pins() -> None:
    result = migrate("""
        trainer:
          batch_size: ${ss:pow2, 128, 128, 128}
          lr: ${ss:log, 1e-4, 1e-2}
        parameters:
          trainer.epochs: ${ss:int, 3, 3}
    """)
    out = load(result.text)["sweep"]
    assert out["trainer"] == {"batch_size": 128, "epochs": 3}
    assert list(out["parameters"]) == ["trainer.lr"]
    assert any("has min == max: the fixed value 128" in c for c in result.changes)


CORPUS = LEGACY / "corpus"
JUNK = [None, "", "auto", "time", "${ss:log, 1, 0}", "$pow2(1, 2)", -1, 0, 2.5, True,
        [], [1, "a"], {}, {"min": 1}, {"distribution": "nope"}, {"space": "log"}, "a=b,c"]


def _mutate(node: Any, choices: list[int]) -> Any:
    """``node`` with the value at a path picked by ``choices`` replaced by a junk value."""
    if not choices or not isinstance(node, dict) or not node:
        return JUNK[choices[0] % len(JUNK)] if choices else node
    keys = sorted(node, key=str)
    key = keys[choices[0] % len(keys)]
    return {**node, key: _mutate(node[key], choices[1:])}


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(sorted(p.name for p in CORPUS.glob("*.yaml"))),
       st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=5))
def test_mangled_legacy_files_are_refused_never_crash(name: str, choices: list[int]) -> None:
    raw = OmegaConf.to_container(OmegaConf.create((CORPUS / name).read_text()), resolve=False)
    text = yaml.safe_dump(_mutate(raw, choices), sort_keys=False)
    try:
        result = migrate_text(text, file=name)
    except SweepError as error:
        assert "\n" not in str(error) and str(error).startswith(f"{name}: ")
        return
    assert result.text  # and what it wrote parses as a sweep (migrate_text checks it)


def test_wandb_strict_hyperband_is_dropped_by_migrate_and_refused_by_the_loader() -> None:
    """W&B's `strict` hyperband has no Optuna equivalent: migrate drops it with a note, and a
    nested file that still holds it is refused, naming the key, instead of being ignored."""
    from nested_sweeper.spec.spec import parse_spec

    result = migrate_text((CORPUS / "wandb_local_hyperband.yaml").read_text(), file="w.yaml")
    early = yaml.safe_load(result.text)["sweep"]["early_terminate"]
    assert early == {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3}
    assert any(c.startswith("early_terminate.strict: dropped") for c in result.changes)
    nested = {"sweep": {"metric": "acc", "parameters": {"x": {"min": 0.0, "max": 1.0}},
                        "early_terminate": {"type": "hyperband", "min_iter": 1, "strict": False}}}
    with pytest.raises(SweepError) as err:
        parse_spec(nested, file="nested.yaml")
    assert err.value.key == "sweep.early_terminate.strict" and "remove it" in str(err.value.fix)

"""The legacy corpus: every file migrates with its meaning kept and then validates, or is
refused on one line that names the key and the fix.

The files under tests/data/legacy/corpus are shaped after public Metta, W&B, PufferLib and
CARBS sweep files (tests/data/legacy/README.md names each source). What each one means is
written by hand in tests/data/legacy/expected.yaml from the legacy file itself, so a
migration that changes a bound, a centre, a scale, a kind, the metric, the goal, the method,
early termination or the run cap fails here.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LEGACY = ROOT / "tests" / "data" / "legacy"
CORPUS = LEGACY / "corpus"
APP_CONF = ROOT / "tests" / "apps" / "legacy" / "conf"
EXPECTED: dict[str, Any] = yaml.safe_load((LEGACY / "expected.yaml").read_text())
DEFAULTS = EXPECTED.pop("defaults")
FILES = sorted(p.name for p in CORPUS.glob("*.yaml"))
FAITHFUL = [name for name in FILES if "refused" not in EXPECTED.get(name, {})]
REFUSED = [name for name in FILES if "refused" in EXPECTED.get(name, {})]


def test_the_corpus_is_large_and_every_file_has_an_expectation() -> None:
    assert len(FILES) >= 30
    assert sorted(EXPECTED) == FILES  # no file without its meaning written down, no stale entry
    readme = (LEGACY / "README.md").read_text()
    missing = [name for name in FILES if f"`corpus/{name}`" not in readme]
    assert not missing, f"README.md names no source for {missing}"


def migrated(cli: Any, name: str, tmp_path: Path) -> Path:
    """Run `nested-sweep migrate` on the corpus file; the output, written to tmp_path."""
    code, out, err = cli("migrate", str(CORPUS / name))
    assert code == 0, err
    assert "Traceback" not in out + err
    path = tmp_path / name
    path.write_text(out)
    return path


def close(got: Any, want: Any) -> bool:
    """Equal, numbers within 1e-9 relative (ints and bools exactly, lists item by item)."""
    if isinstance(want, bool) or isinstance(got, bool):
        return got is want
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=0.0) or got == want
    if isinstance(want, list) and isinstance(got, (list, tuple)):
        return len(got) == len(want) and all(close(g, w) for g, w in zip(got, want))
    if isinstance(want, dict) and isinstance(got, dict):
        return sorted(got) == sorted(want) and all(close(got[k], want[k]) for k in want)
    return bool(got == want)


@pytest.mark.parametrize("name", FAITHFUL)
def test_file_migrates_with_its_meaning_kept(cli: Any, name: str, tmp_path: Path) -> None:
    from nested_sweeper.search.registry import method_for
    from nested_sweeper.spec.spec import load_spec

    want = {**DEFAULTS, **EXPECTED[name]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a wide uniform's advice is not a change of meaning
        spec = load_spec(migrated(cli, name, tmp_path))
    got_settings = {
        "method": spec.method,
        "metric": spec.metric,
        "goal": spec.goal,
        "rollout_count": spec.rollout_count,
        "num_samples": spec.num_samples,
        "method_kwargs": dict(spec.method_kwargs),
        "fixed": dict(spec.fixed),
    }
    for key, value in got_settings.items():
        assert close(value, want[key]), f"{key}: {value!r} != {want[key]!r}"
    assert_early_terminate(spec.early_terminate, want["early_terminate"])
    # the mapped settings are ones the method's constructor takes, with these values
    method = method_for(spec, **spec.method_kwargs)
    for key, value in spec.method_kwargs.items():
        assert close(getattr(method, key), value), key
    assert sorted(spec.parameters) == sorted(want["parameters"])
    for path, dist in spec.parameters.items():
        config = dist.distribution.to_config()
        assert close(config, want["parameters"][path]), f"{path}: {config} != {want['parameters'][path]}"


def assert_early_terminate(got: Any, want: dict[str, Any] | None) -> None:
    if want is None:
        assert got is None
        return
    assert got is not None
    fields = vars(got)
    for key, value in want.items():
        assert close(fields[key], value), f"early_terminate.{key}: {fields[key]!r} != {value!r}"


@pytest.mark.parametrize("name", FAITHFUL)
def test_migrated_file_validates_against_a_config_with_its_paths(
    cli: Any, name: str, tmp_path: Path
) -> None:
    path = migrated(cli, name, tmp_path)
    code, out, err = cli("validate", str(path), "--config-dir", str(APP_CONF), "--config-name", "train")
    assert code == 0, out + err
    assert ": valid — method " in out


@pytest.mark.parametrize("name", FAITHFUL)
def test_migrating_twice_changes_nothing(cli: Any, name: str, tmp_path: Path) -> None:
    path = migrated(cli, name, tmp_path)
    code, out, err = cli("migrate", str(path))
    assert code == 0 and out == path.read_text()
    assert "already in the nested format" in err


@pytest.mark.parametrize("name", REFUSED)
def test_file_is_refused_on_one_line_naming_key_and_fix(cli: Any, name: str) -> None:
    refused = EXPECTED[name]["refused"]
    code, out, err = cli("migrate", str(CORPUS / name))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith(f"error: {CORPUS / name}: {refused['key']}: "), lines[0]
    assert refused["fix"] in lines[0].split("; ", 1)[1]


def test_counts_of_the_corpus() -> None:
    # the split the README's migration section reports
    assert (len(FAITHFUL), len(REFUSED)) == (40, 12)


def test_the_installed_command_migrates_in_place_and_validates(tmp_path: Path) -> None:
    """The same path through real processes: `nested-sweep migrate --in-place`, then validate."""
    import shutil
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("nested-sweep")
    path = tmp_path / "wandb_hydra_command.yaml"
    shutil.copyfile(CORPUS / path.name, path)
    done = subprocess.run([str(exe), "migrate", "--in-place", str(path)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert f"{path}: migrated (wandb)" in done.stdout
    assert "dropped '${env}', '${interpreter}', '${program}', --config-name ppo_small" in done.stdout
    done = subprocess.run([str(exe), "validate", str(path), "--config-dir", str(APP_CONF)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid — method bayes, maximize 'episode_return'" in " ".join(done.stdout.split())
    bad = tmp_path / "wandb_method_ax.yaml"
    shutil.copyfile(CORPUS / bad.name, bad)
    done = subprocess.run([str(exe), "migrate", str(bad)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "sweep.method: method 'ax' is not one of ours" in done.stderr

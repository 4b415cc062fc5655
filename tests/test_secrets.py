"""Secrets stay out of everything a sweep writes: run directories, saved configs, the study
database, W&B offline files, logs and the console.

Fake `*_KEY` / `*_TOKEN` values (and a database password) are put into the environment of a
real sweep; HOME, caches and TMPDIR point into the test's directory, so files that wandb or
torch write outside the sweep directory are searched too. Every file is searched byte for byte
(SQLite pages and W&B's binary `.wandb` records included); a W&B tag proves that search finds
strings inside those binary files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = Path(__file__).parent / "apps" / "scale" / "app.py"
SECRETS = {
    "WANDB_API_KEY": "f00dfeed" * 5,  # the 40-character form of a real key
    "HF_TOKEN": "hf_FakeLeakTestToken3141592653589",
    "AWS_SECRET_ACCESS_KEY": "FakeLeakTestAwsSecret/2718281828459",
    "GITHUB_TOKEN": "ghp_FakeLeakTestToken1618033988749",
    "MY_SERVICE_API_KEY": "sk-FakeLeakTestServiceKey-1414213562",
}
CANARY = "canarytag5150"  # not a secret: must be found, or the search itself is broken


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test's environment with secrets set and every per-user directory inside tmp_path."""
    home = tmp_path / "home"
    for sub in ("", ".cache", ".config", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(SECRETS)
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_CONFIG_HOME=str(home / ".config"), TMPDIR=str(home / "tmp"),
               WANDB_SILENT="true", HYDRA_FULL_ERROR="1", **extra)
    return env


def files_under(*dirs: Path) -> list[Path]:
    return [p for d in dirs for p in d.rglob("*") if p.is_file() and not p.is_symlink()]


def leaks(blobs: dict[str, bytes], secrets: dict[str, str]) -> list[str]:
    return [f"{name} in {where}" for where, blob in blobs.items()
            for name, value in secrets.items() if value.encode() in blob]


def test_trainer_sweep_writes_no_secret(tmp_path: Path) -> None:
    train_dir = tmp_path / "train_dir"
    args = [sys.executable, str(ROOT / "train.py"), "-m", "+sweep=quick", "rollout_count=1",
            "run=leak", f"train_dir={train_dir}", "wandb=offline", f"wandb.tags=[{CANARY}]",
            "sweep.trainer.total_timesteps=1024"]
    proc = subprocess.run(args, cwd=tmp_path, env=isolated_env(tmp_path), capture_output=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]

    written = files_under(tmp_path)
    names = {p.name for p in written}
    assert "sweep.db" in names and "config.yaml" in names and "suggestion.yaml" in names
    wandb_records = [p for p in written if p.suffix == ".wandb"]
    assert len(wandb_records) == 2  # one W&B offline run per sweep run
    blobs = {str(p.relative_to(tmp_path)): p.read_bytes() for p in written}
    blobs.update(stdout=proc.stdout, stderr=proc.stderr)
    assert all(CANARY.encode() in blobs[str(p.relative_to(tmp_path))] for p in wandb_records)
    assert leaks(blobs, SECRETS) == []

    study = optuna.load_study(study_name="leak",
                              storage=f"sqlite:///{train_dir / 'sweep' / 'leak' / 'sweep.db'}")
    attrs = repr([study.user_attrs, [(t.user_attrs, t.params) for t in study.trials]])
    assert len(study.trials) == 2
    assert leaks({"study attributes": attrs.encode()}, SECRETS) == []


@pytest.mark.postgres
def test_database_password_stays_out_of_run_files(tmp_path: Path, pg_url: str) -> None:
    """A password in the storage URL, passed as `${oc.env:...}` as the README says."""
    import sqlalchemy

    password = "pw-FakeLeakTestPassword-173205"
    # The test server trusts loopback connections, so any password is accepted.
    url = sqlalchemy.make_url(pg_url).set(password=password).render_as_string(hide_password=False)
    run = f"leak{uuid.uuid4().hex[:10]}"
    env = isolated_env(tmp_path, SCALE_OUT=str(tmp_path / "out"), SWEEP_DB_URL=url)
    args = [sys.executable, str(APP), "-m", "+sweep=random", "rollout_count=2", f"run={run}",
            "hydra.sweeper.storage=${oc.env:SWEEP_DB_URL}"]
    try:
        proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, timeout=300)
        assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        study = optuna.load_study(study_name=run, storage=url)
        assert len(study.trials) == 4
        attrs = repr([study.user_attrs, [t.user_attrs for t in study.trials]])
    finally:
        if run in optuna.get_all_study_names(pg_url):
            optuna.delete_study(study_name=run, storage=pg_url)
    blobs = {str(p.relative_to(tmp_path)): p.read_bytes() for p in files_under(tmp_path)}
    blobs.update(stdout=proc.stdout, stderr=proc.stderr, attrs=attrs.encode())
    assert any(b"suggestion.yaml" in name.encode() for name in blobs)
    assert leaks(blobs, {"password": password, **SECRETS}) == []

"""W&B offline runs, read back with wandb's own reader of `.wandb` files (`wandb leet inspect`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from nested_sweeper.errors import SweepError
from train.main import train

ROOT = Path(__file__).resolve().parents[1]
WANDB = Path(sys.executable).with_name("wandb")


def make_cfg(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("train", overrides=list(overrides))


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    """Every record of the run's `.wandb` transaction log, as wandb itself decodes them: its
    `wandb leet inspect` command, or on releases before it (the dependency floor) its Python
    datastore reader, given the same shape."""
    (path,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    try:
        from wandb.sdk.internal import datastore
    except ImportError:
        return _inspect(path)
    return _scan(datastore, path)


def _scan(datastore: Any, path: Path) -> list[dict[str, Any]]:
    import wandb
    from wandb.proto import wandb_internal_pb2 as pb

    wandb.teardown()  # these releases' service writes the log out when it shuts down
    store = datastore.DataStore()
    store.open_for_scan(str(path))
    records = []
    while (data := store.scan_data()) is not None:
        record = pb.Record()
        record.ParseFromString(data)
        kind = record.WhichOneof("record_type")
        msg = getattr(record, kind) if kind else None
        if kind == "run":
            body = {"display_name": msg.display_name, "run_group": msg.run_group,
                    "project": msg.project, "tags": list(msg.tags),
                    "config": {"update": _items(msg.config.update)}}
        elif kind == "history":
            body = {"item": _items(msg.item)}
        elif kind == "summary":
            body = {"update": _items(msg.update)}
        elif kind == "exit":
            body = {"exit_code": msg.exit_code}
        else:
            continue
        records.append({"type": kind, kind: body})
    return records


def _items(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        keys = list(item.nested_key) or [item.key]
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = json.loads(item.value_json)
    return out


def _inspect(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(WANDB), "leet", "inspect", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def _wandb_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    # The suite's conftest disables W&B through the environment; these tests use the config.
    monkeypatch.delenv("WANDB_MODE", raising=False)


def test_offline_run_records_config_history_and_summary(tmp_path: Path) -> None:
    run_dir = tmp_path / "wbsweep.r.7"
    cfg = make_cfg(
        "run=wbsweep",
        "wandb=offline",
        "wandb.tags=[smoke]",
        "trainer.total_timesteps=2048",
        "trainer.evaluate_interval=1024",
        "trainer.learning_rate=0.004",
    )
    result = train(cfg, run_dir)
    records = read_records(run_dir)

    (run,) = [r["run"] for r in records if r["type"] == "run"]
    assert run["display_name"] == "wbsweep.r.7"
    assert run["run_group"] == "wbsweep"
    assert run["project"] == "hydra-nested-sweeper"
    assert run["tags"] == ["smoke"]
    config = run["config"]["update"]
    assert config["trainer"]["learning_rate"] == 0.004
    assert config["env"]["game"]["max_steps"] == cfg.env.game.max_steps

    rows = [r["history"]["item"] for r in records if r["type"] == "history"]
    evals = [(row["global_step"], row["eval/reward"]) for row in rows if "eval/reward" in row]
    assert evals[-1] == (2048, result["reward"])
    assert [step for step, _ in evals] == [1024, 2048]
    train_rows = [row for row in rows if "losses/policy_loss" in row]
    assert [row["global_step"] for row in train_rows] == [512, 1024, 1536, 2048]
    assert all("charts/SPS" in row and "losses/value_loss" in row for row in train_rows)

    summary = {}
    for r in records:
        if r["type"] == "summary":
            summary.update(r["summary"]["update"])
    for key in ("reward", "cost", "runtime", "sps", "stopped_early"):
        assert summary[key] == pytest.approx(result[key])
    (exit_record,) = [r["exit"] for r in records if r["type"] == "exit"]
    assert exit_record.get("exit_code", 0) == 0


def test_failed_run_finishes_its_wandb_run_with_exit_code_1(tmp_path: Path) -> None:
    cfg = make_cfg("wandb=offline", "trainer.batch_size=512", "trainer.minibatch_size=3")
    with pytest.raises(SweepError, match="minibatch_size"):
        train(cfg, tmp_path)
    (exit_record,) = [r["exit"] for r in read_records(tmp_path) if r["type"] == "exit"]
    assert exit_record["exit_code"] == 1


def test_disabled_mode_writes_no_wandb_files(tmp_path: Path) -> None:
    train(make_cfg("wandb=disabled", "trainer.total_timesteps=512"), tmp_path)
    assert not (tmp_path / "wandb").exists()
    assert (tmp_path / "config.yaml").exists()

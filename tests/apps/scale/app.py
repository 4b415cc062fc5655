"""A Hydra test app for scale-out and fault tests: an analytic objective with many ways to fail.

reward = -(x - 0.3)^2 - (y + 1)^2 + bonus[opt] (highest at x=0.3, y=-1, opt=b).
`fail` picks what job number `fail_job` (or, for `mixed`, each job below 6) does instead:
  never | garbage (a string) | none | nan | nokey (a mapping without `reward`) | list | raise |
  hang (sleeps `hang_s`) | mixed (jobs 0-5: garbage, none, nan, nokey, list, raise)
`sleep`: seconds every run sleeps. `pid_dir`: each run writes `<pid_dir>/<job>.pid` first, so a
test can kill the run's process from outside.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

BONUS = {"a": 0.0, "b": 0.5, "c": 0.25}
MIXED = ("garbage", "none", "nan", "nokey", "list", "raise")


def objective(cfg: DictConfig) -> float:
    return -((cfg.x - 0.3) ** 2) - (cfg.y + 1) ** 2 + BONUS[cfg.opt] + 0.01 * cfg.n


def misbehave(mode: str, num: int, hang_s: float) -> object:
    if mode == "garbage":
        return "garbage"
    if mode == "none":
        return None
    if mode == "nan":
        return {"reward": math.nan}
    if mode == "nokey":
        return {"score": 1.0}
    if mode == "list":
        return [1.0, 2.0]
    if mode == "raise":
        raise ValueError(f"boom in job {num}")
    if mode == "hang":
        time.sleep(hang_s)
        return {"reward": 0.0}
    raise AssertionError(f"unknown fail mode {mode}")


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> object:
    num = HydraConfig.get().job.num
    if cfg.pid_dir:
        Path(cfg.pid_dir).mkdir(parents=True, exist_ok=True)
        Path(cfg.pid_dir, f"{num}.pid").write_text(str(os.getpid()))
    time.sleep(cfg.sleep)
    if cfg.fail == "mixed" and num < len(MIXED):
        return misbehave(MIXED[num], num, cfg.hang_s)
    if cfg.fail != "never" and num == cfg.fail_job:
        return misbehave(cfg.fail, num, cfg.hang_s)
    return {"reward": objective(cfg), "cost": 1.0 + abs(cfg.x)}


if __name__ == "__main__":
    main()

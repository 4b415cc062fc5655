"""A Hydra test app whose job `fail_job` misbehaves as a hostile user's code would.

`fail`: never | exit (sys.exit(4)) | interrupt (raises KeyboardInterrupt) | swallow (sleeps
`hang_s` inside `except Exception: pass`, then returns 0.0) | a return value: huge (10**400),
float32, float32_map ({"reward": np.float32}), tensor (0-d), decimal, fraction, int64;
`odd`: job i < 7 returns the i-th of those values (whatever `fail_job`).
Every other job returns {"reward": -(x - 0.3)^2}.
"""

from __future__ import annotations

import decimal
import fractions
import sys
import time

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

ODD = ("huge", "float32", "float32_map", "tensor", "decimal", "fraction", "int64")


def odd_value(mode: str) -> object:
    import numpy as np

    if mode == "huge":
        return 10**400
    if mode == "float32":
        return np.float32(1.5)
    if mode == "float32_map":
        return {"reward": np.float32(1.5)}
    if mode == "tensor":
        import torch

        return torch.tensor(1.5)
    if mode == "decimal":
        return decimal.Decimal("1.5")
    if mode == "fraction":
        return fractions.Fraction(3, 2)
    if mode == "int64":
        return np.int64(2)
    raise AssertionError(f"unknown fail mode {mode}")


def misbehave(mode: str, hang_s: float) -> object:
    if mode == "exit":
        sys.exit(4)
    if mode == "interrupt":
        raise KeyboardInterrupt
    if mode == "swallow":
        try:
            time.sleep(hang_s)
        except Exception:  # noqa: BLE001  (the point: a task that hides every error)
            pass
        return 0.0
    return odd_value(mode)


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> object:
    time.sleep(cfg.sleep)
    num = HydraConfig.get().job.num
    if cfg.fail == "odd":
        return odd_value(ODD[num]) if num < len(ODD) else {"reward": -((cfg.x - 0.3) ** 2)}
    if cfg.fail != "never" and num == cfg.fail_job:
        return misbehave(cfg.fail, cfg.hang_s)
    return {"reward": -((cfg.x - 0.3) ** 2)}


if __name__ == "__main__":
    main()

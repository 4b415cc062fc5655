"""A tiny Hydra app for sweeper tests: an analytic objective with controllable failures.

reward = -(x - 0.3)^2 - (y + 1)^2 + bonus[opt], highest at x=0.3, y=-1, opt=b.
`fail`: never | raise | nanvalue | string | none | nokey | thirds (every third trial fails) | all
`sleep`: seconds to sleep (kill and timeout tests). `extra`: a metric reported beside reward.
`steps`: > 0 reports a learning curve (objective · i/steps) through the early-termination API,
stopping when told; cost is the number of steps run.
"""

from __future__ import annotations

import math
import time

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

BONUS = {"a": 0.0, "b": 0.5, "c": 0.25}


def objective(cfg: DictConfig) -> float:
    return -((cfg.x - 0.3) ** 2) - (cfg.y + 1) ** 2 + BONUS[cfg.opt]


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> object:
    num = HydraConfig.get().job.num
    time.sleep(cfg.sleep)
    mode = cfg.fail
    if mode == "raise" or mode == "all" or (mode == "thirds" and num % 3 == 2):
        # "[mode]": brackets that a summary must print as text, not as rich markup
        raise ValueError(f"boom in job {num} [{mode}]")
    if mode == "nanvalue":
        return {"reward": math.nan}
    if mode == "string":
        return "garbage"
    if mode == "none":
        return None
    if mode == "nokey":
        return {"score": 1.0}
    if cfg.steps > 0:
        return learning_curve(cfg)
    return {"reward": objective(cfg), "cost": 1.0 + cfg.x, "extra": cfg.extra}


def learning_curve(cfg: DictConfig) -> dict[str, float]:
    from hydra_plugins.nested_sweeper import report

    # Higher is better; shifted positive so that the curve rises with steps.
    final = 10.0 + objective(cfg)
    for step in range(1, cfg.steps + 1):
        value = final * step / cfg.steps
        if report(value, step):
            return {"reward": value, "cost": float(step), "stopped_early": 1.0}
    return {"reward": final, "cost": float(cfg.steps)}


if __name__ == "__main__":
    main()

"""The torch PPO trainer of hydra-nested-sweeper: a tensor gridworld, PPO and the task function.

Modules: ``env`` (the vectorized altar gridworld), ``ppo`` (sizes, agent, GAE, update),
``logger`` (W&B or a null logger), ``main`` (the task function), ``argv`` (command-line
preparation, stdlib only). This file imports nothing heavy: ``train.py`` imports the package
before Hydra starts.
"""

from __future__ import annotations

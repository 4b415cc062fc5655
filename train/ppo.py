"""PPO in torch, in cleanrl's reading order: sizes -> agent -> rollout -> GAE -> update.

Sizes are checked up front (as PufferLib does) and every problem names the config keys and
a valid choice. One iteration collects ``batch_size = env.num_envs * num_steps`` environment
steps, then runs ``update_epochs`` passes over minibatches of ``minibatch_size``. Everything
random draws from generators owned by ``PPO`` (env layouts, actions, minibatch order), so a
fixed ``trainer.seed`` gives the same run on CPU, and a checkpoint restores it exactly.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nested_sweeper.errors import SweepError, SweepWarning
from train.env import NUM_ACTIONS, AltarGridEnv

EVAL_SEED = 1_000_003

# --------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """The batch geometry of one PPO iteration, derived and checked by ``resolve_sizes``."""

    num_envs: int
    num_steps: int
    batch_size: int
    minibatch_size: int
    num_iterations: int

    @property
    def num_minibatches(self) -> int:
        return self.batch_size // self.minibatch_size


def _positive(key: str, value: Any) -> int:
    try:
        ok = not isinstance(value, bool) and int(value) == value and int(value) >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise SweepError(f"must be a positive integer, got {value!r}", key=key)
    return int(value)


def derive_num_envs(trainer: Any, num_envs: int) -> int:
    """The number of env copies a run steps: ``batch_size / num_steps`` when both are set.

    PufferLib and cleanrl define ``batch_size = num_envs * num_steps``; a user who sets (or a
    sweep that searches) both the batch and the rollout length has fixed the env count, so
    it wins over the hardware profile's ``env.num_envs``. Otherwise ``env.num_envs`` stands and
    ``resolve_sizes`` derives ``num_steps`` (README: "Batch size, number of envs, rollout length").
    """
    steps, batch = trainer.get("num_steps"), trainer.get("batch_size")
    if steps is None or batch is None:
        return num_envs
    steps = _positive("trainer.num_steps", steps)
    batch = _positive("trainer.batch_size", batch)
    if batch % steps:
        raise SweepError(
            f"batch_size ({batch}) is not a multiple of num_steps ({steps}): "
            "one update uses num_envs * num_steps env steps",
            key="trainer.batch_size",
            fix=f"use a multiple of {steps} (a sweep: distribution uniform_pow2 with a "
            "power-of-two num_steps), or trainer.num_steps=null",
        )
    return batch // steps


def check_config(cfg: Any) -> None:
    """The sweeper's pre-launch check (hydra.sweeper.check): raise where a run would fail
    on its sizes, before any run is launched."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SweepWarning)
        resolve_sizes(cfg["trainer"], derive_num_envs(cfg["trainer"], cfg["env"]["num_envs"]))


def resolve_sizes(trainer: Any, num_envs: int) -> Sizes:
    """Derive and check ``num_steps``, ``minibatch_size`` and the iteration count.

    Rules (README.md, "Batch size, number of envs, rollout length"):
    - ``batch_size = env.num_envs * num_steps``. With ``num_steps: null`` it is derived as
      ``batch_size // env.num_envs``; ``batch_size`` must then be a multiple of ``num_envs``.
      With ``num_steps`` set, ``batch_size`` must equal the product (or be null).
    - ``minibatch_size`` larger than ``batch_size`` is clamped to it with a warning (so a
      sweep drawing both independently never fails on it); it must divide ``batch_size``.
    - With ``use_lstm`` a minibatch holds whole rollouts: ``minibatch_size`` must be a
      multiple of ``num_steps`` and ``num_envs`` a multiple of ``minibatch_size // num_steps``.
    - ``total_timesteps`` is rounded up to whole iterations.

    Raises:
        SweepError: naming the keys and a valid value when the sizes cannot fit.
    """
    num_envs = _positive("env.num_envs", num_envs)
    steps, batch = trainer.get("num_steps"), trainer.get("batch_size")
    if steps is None and batch is None:
        raise SweepError(
            "set trainer.batch_size or trainer.num_steps",
            key="trainer.batch_size",
            fix=f"e.g. trainer.batch_size={num_envs * 32}",
        )
    if steps is None:
        batch = _positive("trainer.batch_size", batch)
        if batch % num_envs:
            # Suggest a batch that also fits the minibatch, so the fix is a valid config.
            minibatch = trainer.get("minibatch_size")
            unit = (
                math.lcm(num_envs, minibatch)
                if isinstance(minibatch, int) and minibatch > 0
                else num_envs
            )
            good = max(unit, batch // unit * unit)
            raise SweepError(
                f"batch_size ({batch}) must be a multiple of env.num_envs ({num_envs}): "
                "one update uses num_envs * num_steps env steps",
                key="trainer.batch_size",
                fix=f"use trainer.batch_size={good}, or env.num_envs dividing {batch}",
            )
        steps = batch // num_envs
    else:
        steps = _positive("trainer.num_steps", steps)
        if batch is not None and _positive("trainer.batch_size", batch) != num_envs * steps:
            raise SweepError(
                f"batch_size ({batch}) != env.num_envs ({num_envs}) * num_steps ({steps})",
                key="trainer.batch_size",
                fix=f"use trainer.batch_size={num_envs * steps} or trainer.num_steps=null",
            )
        batch = num_envs * steps
    minibatch = _positive("trainer.minibatch_size", trainer.get("minibatch_size"))
    if minibatch > batch:
        warnings.warn(
            f"trainer.minibatch_size ({minibatch}) > trainer.batch_size ({batch}); "
            f"using minibatch_size={batch}",
            SweepWarning,
            stacklevel=2,
        )
        minibatch = batch
    if batch % minibatch:
        raise SweepError(
            f"batch_size ({batch}) is not divisible by minibatch_size ({minibatch})",
            key="trainer.minibatch_size",
            fix=f"use trainer.minibatch_size={_largest_divisor(batch, minibatch)}; in a sweep, "
            "search batch_size and minibatch_size with distribution: uniform_pow2 (powers of "
            "two divide each other)",
        )
    if trainer.get("use_lstm"):
        _check_lstm(num_envs, steps, minibatch)
    total = _positive("trainer.total_timesteps", trainer.get("total_timesteps"))
    return Sizes(num_envs, steps, batch, minibatch, math.ceil(total / batch))


def _largest_divisor(n: int, at_most: int) -> int:
    return max(d for d in range(1, at_most + 1) if n % d == 0)


def _check_lstm(num_envs: int, steps: int, minibatch: int) -> None:
    if minibatch % steps:
        raise SweepError(
            f"with use_lstm a minibatch holds whole rollouts of num_steps ({steps}) steps, "
            f"but minibatch_size is {minibatch}",
            key="trainer.minibatch_size",
            fix=f"use a multiple of {steps}, e.g. trainer.minibatch_size={steps * max(1, minibatch // steps)}",
        )
    envs_per_mb = minibatch // steps
    if num_envs % envs_per_mb:
        raise SweepError(
            f"with use_lstm env.num_envs ({num_envs}) must be a multiple of "
            f"minibatch_size // num_steps ({envs_per_mb})",
            key="trainer.minibatch_size",
            fix=f"use trainer.minibatch_size={steps * _largest_divisor(num_envs, envs_per_mb)}",
        )


# --------------------------------------------------------------------------------------
# Agent
# --------------------------------------------------------------------------------------

State = tuple[torch.Tensor, torch.Tensor] | None


def layer_init(layer: nn.Linear, std: float = math.sqrt(2), bias: float = 0.0) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


class Agent(nn.Module):
    """Shared MLP trunk with policy and value heads; an LSTM cell on top when asked.

    One trunk serves both heads because the PPO update dominates the run time and a shared
    trunk halves its cost; on this task it learns as well as two networks.
    """

    def __init__(
        self, obs_size: int, hidden: int, *, use_lstm: bool = False, lstm_hidden: int = 64
    ) -> None:
        super().__init__()
        self.trunk = nn.Sequential(
            layer_init(nn.Linear(obs_size, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
        )
        self.lstm = nn.LSTMCell(hidden, lstm_hidden) if use_lstm else None
        head_in = lstm_hidden if use_lstm else hidden
        self.actor = layer_init(nn.Linear(head_in, NUM_ACTIONS), std=0.01)
        self.critic = layer_init(nn.Linear(head_in, 1), std=1.0)

    def initial_state(self, n: int, device: torch.device) -> State:
        if self.lstm is None:
            return None
        zeros = torch.zeros(n, self.lstm.hidden_size, device=device)
        return zeros, zeros.clone()

    def forward(
        self, obs: torch.Tensor, state: State = None
    ) -> tuple[torch.Tensor, torch.Tensor, State]:
        """One step: ``(logits, value, next_state)`` for a batch of observations."""
        x = self.trunk(obs)
        if self.lstm is not None:
            state = self.lstm(x, state)
            x = state[0]
        return self.actor(x), self.critic(x).squeeze(-1), state

    def unroll(
        self, obs: torch.Tensor, dones: torch.Tensor, state: State
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and values for ``(T, B, obs)`` rollouts, replaying the recurrent state.

        ``dones[t]`` marks that the episode ended after step ``t``: the state is zeroed
        before step ``t + 1``. Gradients flow through the whole rollout (truncated BPTT).
        """
        if self.lstm is None:
            logits, values, _ = self(obs)
            return logits, values
        x = self.trunk(obs)
        hs = []
        h, c = state
        for t in range(x.shape[0]):
            h, c = self.lstm(x[t], (h, c))
            hs.append(h)
            keep = (1.0 - dones[t])[:, None]
            h, c = h * keep, c * keep
        hidden = torch.stack(hs)
        return self.actor(hidden), self.critic(hidden).squeeze(-1)


def sample_actions(
    logits: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gumbel-max sampling: faster than ``torch.distributions.Categorical`` for small heads.

    ``argmax(logits + Gumbel)`` with ``Gumbel = -log(Exponential(1))``.
    """
    noise = torch.empty_like(logits).exponential_(generator=generator).log_()
    actions = (logits - noise).argmax(dim=-1)
    logp = torch.log_softmax(logits, dim=-1).gather(-1, actions[..., None]).squeeze(-1)
    return actions, logp


# --------------------------------------------------------------------------------------
# GAE
# --------------------------------------------------------------------------------------


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    next_value: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimation over a ``(T, B)`` rollout.

    ``dones[t]`` is 1 when the episode ended after step ``t`` (no bootstrap through it);
    ``next_value`` is the value of the observation after the last step.

    Returns:
        ``(advantages, returns)``, both ``(T, B)``, with ``returns = advantages + values``.
    """
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(next_value)
    for t in reversed(range(rewards.shape[0])):
        following = next_value if t == rewards.shape[0] - 1 else values[t + 1]
        nonterminal = 1.0 - dones[t]
        delta = rewards[t] + gamma * following * nonterminal - values[t]
        last = delta + gamma * gae_lambda * nonterminal * last
        advantages[t] = last
    return advantages, advantages + values


# --------------------------------------------------------------------------------------
# The trainer
# --------------------------------------------------------------------------------------


class PPO:
    """Rollout buffers, the agent, its optimizer and the generators of one training run.

    ``iterate()`` runs one collect + update iteration and returns its statistics as
    tensors (the caller decides when to pay for ``.item()``); ``evaluate()`` measures the
    mean episode reward on a fixed set of layouts.
    """

    def __init__(self, trainer: Any, env: AltarGridEnv, eval_env: AltarGridEnv) -> None:
        self.cfg = trainer
        self.env, self.eval_env = env, eval_env
        self.device = env.device
        self.sizes = resolve_sizes(trainer, env.num_envs)
        seed = int(trainer.get("seed") or 0)  # null outside train(): 0
        torch.manual_seed(seed)  # network initialisation
        self.agent = Agent(
            env.obs_size,
            int(trainer.hidden_size),
            use_lstm=bool(trainer.use_lstm),
            lstm_hidden=int(trainer.lstm_hidden_size),
        ).to(self.device)
        self.optimizer = _make_optimizer(trainer, self.agent.parameters())
        self.action_gen = _generator(self.device, seed + 1)
        self.shuffle_gen = _generator(self.device, seed + 2)
        # Evaluation layouts do not depend on trainer.seed, so runs of a sweep compare fairly.
        self.eval_seed = EVAL_SEED
        self.global_step = 0
        self.iteration = 0
        self._allocate()
        self.next_obs = env.reset()
        self.state = self.agent.initial_state(env.num_envs, self.device)

    def _allocate(self) -> None:
        t, n, dev = self.sizes.num_steps, self.sizes.num_envs, self.device
        self.obs = torch.zeros(t, n, self.env.obs_size, device=dev)
        self.actions = torch.zeros(t, n, dtype=torch.long, device=dev)
        self.logprobs = torch.zeros(t, n, device=dev)
        self.rewards = torch.zeros(t, n, device=dev)
        self.dones = torch.zeros(t, n, device=dev)
        self.values = torch.zeros(t, n, device=dev)
        self.episode_return = torch.zeros(n, device=dev)
        # NaN until an episode ends (a short run with a long episode may never see one).
        self.last_return = torch.full((), float("nan"), device=dev)

    # -- ALGO LOGIC: rollout -------------------------------------------------------------

    @torch.no_grad()
    def collect(self) -> State:
        """Fill the rollout buffers; return the recurrent state at the rollout's start."""
        start_state = None if self.state is None else (self.state[0].clone(), self.state[1].clone())
        obs, state = self.next_obs, self.state
        for t in range(self.sizes.num_steps):
            self.obs[t] = obs
            logits, value, state = self.agent(obs, state)
            action, logp = sample_actions(logits, self.action_gen)
            self.actions[t], self.logprobs[t], self.values[t] = action, logp, value
            obs, reward, done = self.env.step(action)
            self.rewards[t] = reward
            self.episode_return += reward
            self.dones[t] = float(done)
            if done:  # all copies end together (fixed-length episodes)
                self.last_return = self.episode_return.mean()
                self.episode_return.zero_()
                if state is not None:
                    state = self.agent.initial_state(self.sizes.num_envs, self.device)
        self.next_obs, self.state = obs, state
        self.global_step += self.sizes.batch_size
        return start_state

    # -- ALGO LOGIC: update --------------------------------------------------------------

    def iterate(self) -> dict[str, torch.Tensor]:
        """One PPO iteration (collect, GAE, update); returns its statistics as tensors."""
        self.iteration += 1
        if self.cfg.anneal_lr:
            frac = 1.0 - (self.iteration - 1) / self.sizes.num_iterations
            for group in self.optimizer.param_groups:
                group["lr"] = frac * float(self.cfg.learning_rate)
        start_state = self.collect()
        with torch.no_grad():
            _, next_value, _ = self.agent(self.next_obs, self.state)
            advantages, returns = compute_gae(
                self.rewards,
                self.values,
                self.dones,
                next_value,
                float(self.cfg.gamma),
                float(self.cfg.gae_lambda),
            )
        stats = self._update(advantages, returns, start_state)
        stats["charts/episode_return"] = self.last_return
        stats["charts/learning_rate"] = torch.tensor(
            float(self.optimizer.param_groups[0]["lr"]), dtype=torch.float64
        )
        var = returns.var()
        stats["losses/explained_variance"] = 1 - (returns - self.values).var() / var.clamp_min(1e-8)
        return stats

    def _update(
        self, advantages: torch.Tensor, returns: torch.Tensor, start_state: State
    ) -> dict[str, torch.Tensor]:
        cfg, sizes = self.cfg, self.sizes
        recurrent = start_state is not None
        # Recurrent minibatches are whole rollouts (columns); flat ones are single steps.
        units = sizes.num_envs if recurrent else sizes.batch_size
        per_mb = units // sizes.num_minibatches
        totals: dict[str, torch.Tensor] = {}
        count = 0
        for _ in range(int(cfg.update_epochs)):
            order = torch.randperm(units, generator=self.shuffle_gen, device=self.device)
            for start in range(0, units, per_mb):
                idx = order[start : start + per_mb]
                logits, new_values = self._forward_minibatch(idx, start_state)
                stats = self._loss_step(idx, logits, new_values, advantages, returns, recurrent)
                for key, value in stats.items():
                    totals[key] = totals.get(key, 0.0) + value
                count += 1
            if cfg.target_kl is not None and stats["losses/approx_kl"] > float(cfg.target_kl):
                break
        return {key: value / count for key, value in totals.items()}

    def _forward_minibatch(
        self, idx: torch.Tensor, start_state: State
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if start_state is None:
            obs = self.obs.view(-1, self.obs.shape[-1])[idx]
            logits, values, _ = self.agent(obs)
            return logits, values
        state = (start_state[0][idx], start_state[1][idx])
        logits, values = self.agent.unroll(self.obs[:, idx], self.dones[:, idx], state)
        return logits.flatten(0, 1), values.flatten(0, 1)

    def _loss_step(
        self,
        idx: torch.Tensor,
        logits: torch.Tensor,
        new_values: torch.Tensor,
        advantages: torch.Tensor,
        returns: torch.Tensor,
        recurrent: bool,
    ) -> dict[str, torch.Tensor]:
        cfg = self.cfg

        def pick(buffer: torch.Tensor) -> torch.Tensor:
            return buffer[:, idx].flatten(0, 1) if recurrent else buffer.view(-1)[idx]

        actions, old_logp, old_values = pick(self.actions), pick(self.logprobs), pick(self.values)
        adv, ret = pick(advantages), pick(returns)
        log_probs = torch.log_softmax(logits, dim=-1)
        new_logp = log_probs.gather(-1, actions[:, None]).squeeze(-1)
        entropy = -(log_probs.exp() * log_probs).sum(-1).mean()
        log_ratio = new_logp - old_logp
        ratio = log_ratio.exp()
        if cfg.norm_adv and adv.numel() > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        clip = float(cfg.clip_coef)
        pg_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip)).mean()
        if cfg.clip_vloss:
            clipped = old_values + (new_values - old_values).clamp(-clip, clip)
            v_loss = 0.5 * torch.max((new_values - ret) ** 2, (clipped - ret) ** 2).mean()
        else:
            v_loss = 0.5 * ((new_values - ret) ** 2).mean()
        loss = pg_loss - float(cfg.ent_coef) * entropy + float(cfg.vf_coef) * v_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.agent.parameters(), float(cfg.max_grad_norm))
        self.optimizer.step()
        with torch.no_grad():
            return {
                "losses/policy_loss": pg_loss.detach(),
                "losses/value_loss": v_loss.detach(),
                "losses/entropy": entropy.detach(),
                "losses/approx_kl": ((ratio - 1) - log_ratio).mean(),
                "losses/clipfrac": ((ratio - 1).abs() > clip).float().mean(),
            }

    # -- evaluation ----------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self, *, random_policy: bool = False) -> float:
        """Mean episode reward of the current policy (sampled actions) on fixed layouts.

        The eval env and its action generator are reseeded every time, so successive
        evaluations differ only by the policy. ``random_policy`` plays uniform actions:
        the baseline a learned policy must beat.
        """
        env = self.eval_env
        env.generator.manual_seed(self.eval_seed)
        gen = _generator(self.device, self.eval_seed + 1)
        obs = env.reset()
        state = self.agent.initial_state(env.num_envs, self.device)
        total = torch.zeros(env.num_envs, device=self.device)
        for _ in range(env.game.max_steps):
            if random_policy:
                logits = torch.zeros(env.num_envs, NUM_ACTIONS, device=self.device)
            else:
                logits, _, state = self.agent(obs, state)
            action, _ = sample_actions(logits, gen)
            obs, reward, _ = env.step(action)
            total += reward
        return float(total.mean())

    # -- checkpoints ---------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "env": self.env.state_dict(),
            "next_obs": self.next_obs.to("cpu", copy=True),
            "state": None
            if self.state is None
            else tuple(s.to("cpu", copy=True) for s in self.state),
            "episode_return": self.episode_return.to("cpu", copy=True),
            "last_return": self.last_return.to("cpu", copy=True),
            "action_gen": self.action_gen.get_state(),
            "shuffle_gen": self.shuffle_gen.get_state(),
            "global_step": self.global_step,
            "iteration": self.iteration,
            "geometry": [self.sizes.num_envs, self.sizes.num_steps],
        }

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        geometry = [self.sizes.num_envs, self.sizes.num_steps]
        if list(saved["geometry"]) != geometry:
            raise SweepError(
                f"the checkpoint holds rollouts of (num_envs, num_steps) = "
                f"{tuple(saved['geometry'])}, this config gives {tuple(geometry)}",
                key="trainer",
                fix="resume with the run's own config.yaml, or use a new run directory",
            )
        dev = self.device
        self.agent.load_state_dict(saved["agent"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.env.load_state_dict(saved["env"])
        self.next_obs = saved["next_obs"].to(dev)
        state = saved["state"]
        self.state = None if state is None else tuple(s.to(dev) for s in state)
        self.episode_return = saved["episode_return"].to(dev)
        self.last_return = saved["last_return"].to(dev)
        self.action_gen.set_state(saved["action_gen"])
        self.shuffle_gen.set_state(saved["shuffle_gen"])
        self.global_step = int(saved["global_step"])
        self.iteration = int(saved["iteration"])


def _generator(device: torch.device, seed: int) -> torch.Generator:
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def _make_optimizer(trainer: Any, params: Any) -> torch.optim.Optimizer:
    name = str(trainer.get("optimizer", "adam")).lower()
    lr = float(trainer.learning_rate)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, eps=1e-5)
    if name == "sgd":
        # Plain SGD barely moves PPO at Adam's learning rates; momentum makes it usable.
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    raise SweepError(f"unknown optimizer {name!r}", key="trainer.optimizer", fix="use adam or sgd")

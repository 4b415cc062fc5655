"""The altar gridworld: ``num_envs`` copies held in torch tensors and stepped together.

Each copy is a ``width x height`` floor surrounded by a wall, with one agent and ``count``
altars. Moving into a *ready* altar uses it: the agent gets the altar's ``reward``, the altar
loses one ``hp`` and waits ``cooldown`` steps; an altar at 0 hp is gone until the episode
resets. Moving into a wall or a cooling altar leaves the agent in place. Every episode lasts
exactly ``max_steps`` steps, so all copies reset together and no per-copy reset (and no
``nonzero``) is needed.

The agent sees a ``(2r+1)^2`` window centred on itself, one-hot over (wall, ready altar,
cooling altar), plus the fraction of the episode left. Because time is observed, the episode
end is a true terminal for the value function. On a small grid the altars are usually in view
and the task is learned in a few thousand steps; on a big grid the agent has to search.

Actions: 0 stay, 1 up, 2 down, 3 left, 4 right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

NUM_ACTIONS = 5
NUM_CHANNELS = 3  # wall, ready altar, cooling altar

# Cell codes of the padded grid; an observation channel k is "code == k + 1".
EMPTY, WALL, READY, COOLING = 0, 1, 2, 3


@dataclass(frozen=True)
class GameConfig:
    """The game settings (``env.game`` in the config)."""

    width: int = 6
    height: int = 6
    max_steps: int = 32
    view_radius: int = 2
    altar_count: int = 2
    altar_hp: int = 8
    altar_cooldown: int = 3
    altar_reward: float = 1.0

    @classmethod
    def from_config(cls, game: Any) -> GameConfig:
        """Build from the ``env.game`` mapping (an OmegaConf node or a dict)."""
        altar = game["objects"]["altar"]
        return cls(
            width=int(game["width"]),
            height=int(game["height"]),
            max_steps=int(game["max_steps"]),
            view_radius=int(game.get("view_radius", 2)),
            altar_count=int(altar.get("count", 1)),
            altar_hp=int(altar["hp"]),
            altar_cooldown=int(altar["cooldown"]),
            altar_reward=float(altar["reward"]),
        )

    def validate(self) -> None:
        """Raise a ``SweepError`` naming the key when the game cannot be built."""
        from nested_sweeper.errors import SweepError

        if self.width < 1 or self.height < 1:
            raise SweepError(
                f"the grid must be at least 1x1, got {self.width}x{self.height}",
                key="env.game.width/height",
                fix="use e.g. env.game.width=6 env.game.height=6",
            )
        if self.altar_count + 1 > self.width * self.height:
            raise SweepError(
                f"{self.altar_count} altars and the agent do not fit on "
                f"{self.width}x{self.height} cells",
                key="env.game.objects.altar.count",
                fix=f"use at most {self.width * self.height - 1} altars or a bigger grid",
            )
        for key, value, low in (
            ("env.game.max_steps", self.max_steps, 1),
            ("env.game.view_radius", self.view_radius, 0),
            ("env.game.objects.altar.hp", self.altar_hp, 0),
            ("env.game.objects.altar.cooldown", self.altar_cooldown, 0),
            ("env.game.objects.altar.count", self.altar_count, 0),
        ):
            if value < low:
                raise SweepError(f"must be >= {low}, got {value}", key=key)

    @property
    def obs_size(self) -> int:
        side = 2 * self.view_radius + 1
        return side * side * NUM_CHANNELS + 1


class AltarGridEnv:
    """``num_envs`` altar gridworlds stepped as one batch of tensors.

    The state is a handful of tensors (``state_dict`` returns them for checkpoints);
    randomness comes only from the env's own ``torch.Generator``, so a seed fixes
    every layout.
    """

    def __init__(
        self,
        game: GameConfig,
        num_envs: int,
        *,
        device: torch.device | str = "cpu",
        seed: int = 0,
    ) -> None:
        game.validate()
        self.game = game
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.obs_size = game.obs_size
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self._build_static()
        n, a = num_envs, game.altar_count
        self.agent = torch.zeros(n, dtype=torch.long, device=self.device)
        self.altar_pos = torch.zeros(n, a, dtype=torch.long, device=self.device)
        self.altar_hp = torch.zeros(n, a, dtype=torch.long, device=self.device)
        self.altar_wait = torch.zeros(n, a, dtype=torch.long, device=self.device)
        self.t = 0

    def _build_static(self) -> None:
        """Index tables that never change: floor cells, moves and the view window."""
        g, r = self.game, self.game.view_radius
        # Pad by the view radius (at least 1 for the wall) so every window stays in bounds.
        pad = self.pad = max(r, 1)
        self.padded_w = g.width + 2 * pad
        padded_h = g.height + 2 * pad
        dev = self.device
        base = torch.full((padded_h, self.padded_w), WALL, dtype=torch.uint8, device=dev)
        base[pad : pad + g.height, pad : pad + g.width] = EMPTY
        self.base = base.flatten()
        rows = torch.arange(pad, pad + g.height, device=dev)
        cols = torch.arange(pad, pad + g.width, device=dev)
        self.floor = (rows[:, None] * self.padded_w + cols[None, :]).flatten()
        w = self.padded_w
        self.moves = torch.tensor([0, -w, w, -1, 1], dtype=torch.long, device=dev)
        dy, dx = torch.meshgrid(
            torch.arange(-r, r + 1, device=dev), torch.arange(-r, r + 1, device=dev), indexing="ij"
        )
        self.window = (dy * w + dx).flatten()
        self.codes = torch.tensor([WALL, READY, COOLING], dtype=torch.uint8, device=dev)
        self.cells = self.base.repeat(self.num_envs, 1)
        self.rows = torch.arange(self.num_envs, device=dev)[:, None]

    def cell(self, x: int, y: int) -> int:
        """The state index of floor cell (x, y), 0-based from the top-left floor cell."""
        return (self.pad + y) * self.padded_w + self.pad + x

    # -- episode -------------------------------------------------------------------------

    def reset(self) -> torch.Tensor:
        """Start a new episode in every copy; return the first observations."""
        g = self.game
        # One random permutation of floor cells per copy: the agent, then the altars.
        order = torch.rand(
            self.num_envs, self.floor.numel(), generator=self.generator, device=self.device
        ).argsort(dim=1)[:, : g.altar_count + 1]
        picked = self.floor[order]
        self.agent = picked[:, 0].clone()
        self.altar_pos = picked[:, 1:].clone()
        self.altar_hp.fill_(g.altar_hp)
        self.altar_wait.zero_()
        self.t = 0
        return self._observe()

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Apply one action per copy.

        Returns:
            ``(obs, reward, done)``: ``obs`` (num_envs, obs_size) float, ``reward``
            (num_envs,) float, and ``done`` True when this step ended the episode in every
            copy; ``obs`` is then already the first observation of the next episode.
        """
        target = self.agent + self.moves[actions]
        at_target = self.altar_pos == target[:, None]
        ready = (self.altar_hp > 0) & (self.altar_wait == 0)
        used = at_target & ready
        # Walls and altars (ready or not) block; an altar at 0 hp is gone and walkable.
        blocked = (self.base[target] == WALL) | (at_target & (self.altar_hp > 0)).any(dim=1)
        self.agent = torch.where(blocked, self.agent, target)
        self.altar_wait.sub_(1).clamp_(min=0)
        self.altar_wait.masked_fill_(used, self.game.altar_cooldown)
        self.altar_hp.sub_(used.long())
        reward = used.sum(dim=1).to(torch.float32) * self.game.altar_reward
        self.t += 1
        if self.t >= self.game.max_steps:
            return self.reset(), reward, True
        return self._observe(), reward, False

    def _observe(self) -> torch.Tensor:
        """The egocentric one-hot window plus the fraction of the episode left."""
        cells = self.cells
        cells.copy_(self.base.expand_as(cells))
        alive = self.altar_hp > 0
        code = torch.where(self.altar_wait == 0, READY, COOLING).to(torch.uint8)
        # Gone altars write EMPTY, which is what the floor under them already is.
        code = torch.where(alive, code, torch.zeros_like(code))
        cells.scatter_(1, self.altar_pos, code)
        view = cells.gather(1, self.agent[:, None] + self.window)
        onehot = (view[:, :, None] == self.codes).flatten(1).to(torch.float32)
        left = torch.full(
            (self.num_envs, 1),
            1.0 - self.t / self.game.max_steps,
            dtype=torch.float32,
            device=self.device,
        )
        return torch.cat([onehot, left], dim=1)

    # -- checkpoints ---------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent.to("cpu", copy=True),
            "altar_pos": self.altar_pos.to("cpu", copy=True),
            "altar_hp": self.altar_hp.to("cpu", copy=True),
            "altar_wait": self.altar_wait.to("cpu", copy=True),
            "t": self.t,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> torch.Tensor:
        """Restore a saved state; return the current observations."""
        for name in ("agent", "altar_pos", "altar_hp", "altar_wait"):
            setattr(self, name, state[name].to(self.device))
        self.t = int(state["t"])
        self.generator.set_state(state["generator"])
        return self._observe()


def make_env(env_cfg: Any, *, num_envs: int | None = None, device: Any = "cpu", seed: int = 0):
    """Build an ``AltarGridEnv`` from the ``env`` config group."""
    game = GameConfig.from_config(env_cfg["game"])
    n = int(env_cfg["num_envs"]) if num_envs is None else num_envs
    return AltarGridEnv(game, n, device=device, seed=seed)

"""The altar gridworld: movement, altar rules, observations, resets, seeding, checkpoints."""

from __future__ import annotations

import pytest
import torch

from nested_sweeper.errors import SweepError
from train.env import NUM_CHANNELS, AltarGridEnv, GameConfig

STAY, UP, DOWN, LEFT, RIGHT = range(5)


def place(env: AltarGridEnv, agent: tuple[int, int], altars: list[tuple[int, int]]) -> None:
    """Put the agent and the altars of every copy on the given (x, y) floor cells."""
    env.reset()
    env.agent[:] = env.cell(*agent)
    env.altar_pos[:] = torch.tensor([env.cell(*a) for a in altars])


def act(env: AltarGridEnv, action: int) -> tuple[torch.Tensor, float, bool]:
    obs, reward, done = env.step(torch.full((env.num_envs,), action, dtype=torch.long))
    return obs, float(reward[0]), done


def window(env: AltarGridEnv, obs: torch.Tensor) -> torch.Tensor:
    """(side, side, channel) view of copy 0's observation."""
    side = 2 * env.game.view_radius + 1
    return obs[0, :-1].view(side, side, NUM_CHANNELS)


def test_reset_puts_agent_and_altars_on_distinct_floor_cells() -> None:
    env = AltarGridEnv(GameConfig(width=4, height=3, altar_count=5), 200, seed=1)
    env.reset()
    cells = torch.cat([env.agent[:, None], env.altar_pos], dim=1)
    floor = set(env.floor.tolist())
    for row in cells.tolist():
        assert len(set(row)) == 6
        assert set(row) <= floor
    # 200 random layouts on 12 cells use every cell somewhere.
    assert set(cells.flatten().tolist()) == floor


def test_walls_block_and_floor_moves() -> None:
    env = AltarGridEnv(GameConfig(width=3, height=3, altar_count=1), 1)
    place(env, agent=(0, 0), altars=[(2, 2)])
    for blocked in (UP, LEFT):
        act(env, blocked)
        assert int(env.agent[0]) == env.cell(0, 0)
    act(env, RIGHT)
    assert int(env.agent[0]) == env.cell(1, 0)
    act(env, DOWN)
    assert int(env.agent[0]) == env.cell(1, 1)


def test_altar_pays_when_ready_then_cools_down_then_disappears() -> None:
    game = GameConfig(width=3, height=1, altar_count=1, altar_hp=2, altar_cooldown=2)
    env = AltarGridEnv(game, 2)
    place(env, agent=(0, 0), altars=[(1, 0)])
    rewards = [act(env, RIGHT)[1] for _ in range(6)]
    # Use (hp 2 -> 1), two cooling steps, use (hp 1 -> 0), then the altar is gone: the agent
    # walks onto its cell and on into the wall.
    assert rewards == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    assert env.altar_hp.tolist() == [[0], [0]]
    assert int(env.agent[0]) == env.cell(2, 0)


def test_blocked_by_cooling_altar() -> None:
    env = AltarGridEnv(GameConfig(width=3, height=1, altar_count=1, altar_cooldown=5), 1)
    place(env, agent=(0, 0), altars=[(1, 0)])
    act(env, RIGHT)
    _, reward, _ = act(env, RIGHT)
    assert reward == 0.0
    assert int(env.agent[0]) == env.cell(0, 0)


def test_observation_channels_and_time_left() -> None:
    game = GameConfig(width=4, height=4, altar_count=1, altar_cooldown=3, max_steps=8)
    env = AltarGridEnv(game, 1)
    place(env, agent=(0, 0), altars=[(1, 0)])
    obs = env._observe()
    assert obs.shape == (1, game.obs_size)
    view = window(env, obs)  # centre (2, 2) is the agent; [row, col, channel]
    assert view[:, :, 0][0].tolist() == [1.0] * 5  # two rows of wall above the corner
    assert view[2, 1, 0] == 1.0 and view[2, 3, 0] == 0.0  # wall left, floor right
    assert view[2, 3, 1] == 1.0 and view[2, 3, 2] == 0.0  # the ready altar to the right
    assert obs[0, -1] == 1.0
    obs, reward, _ = act(env, RIGHT)
    assert reward == 1.0
    view = window(env, obs)
    assert view[2, 3, 1] == 0.0 and view[2, 3, 2] == 1.0  # now cooling
    assert obs[0, -1] == pytest.approx(1 - 1 / 8)
    assert obs.sum(dim=1).item() == pytest.approx(view.sum().item() + 1 - 1 / 8)


def test_episode_ends_at_max_steps_and_resets_everything() -> None:
    env = AltarGridEnv(GameConfig(max_steps=5, altar_hp=1), 8, seed=3)
    env.reset()
    dones = []
    for _ in range(5):
        obs, _, done = env.step(torch.randint(0, 5, (8,)))
        dones.append(done)
    assert dones == [False, False, False, False, True]
    assert env.t == 0
    assert obs[:, -1].tolist() == [1.0] * 8
    assert env.altar_hp.min().item() == 1 and env.altar_wait.max().item() == 0


def test_same_seed_same_layouts_and_state_round_trip() -> None:
    a, b, c = (AltarGridEnv(GameConfig(), 16, seed=s) for s in (7, 7, 8))
    assert torch.equal(a.reset(), b.reset())
    c.reset()
    assert not torch.equal(a.altar_pos, c.altar_pos)
    actions = torch.randint(0, 5, (40, 16), generator=torch.Generator().manual_seed(0))
    for step in actions[:20]:
        a.step(step)
    saved = a.state_dict()
    tail_a = [a.step(step) for step in actions[20:]]
    restored = AltarGridEnv(GameConfig(), 16, seed=123)
    restored.load_state_dict(saved)
    tail_r = [restored.step(step) for step in actions[20:]]
    for (obs_a, rew_a, done_a), (obs_r, rew_r, done_r) in zip(tail_a, tail_r):
        assert torch.equal(obs_a, obs_r) and torch.equal(rew_a, rew_r) and done_a == done_r


@pytest.mark.parametrize(
    ("game", "key"),
    [
        (GameConfig(width=2, height=2, altar_count=4), "env.game.objects.altar.count"),
        (GameConfig(max_steps=0), "env.game.max_steps"),
        (GameConfig(width=0), "env.game.width/height"),
    ],
)
def test_impossible_games_are_rejected_with_the_key(game: GameConfig, key: str) -> None:
    with pytest.raises(SweepError) as info:
        AltarGridEnv(game, 1)
    assert info.value.key == key

"""Tests of renshu.rollout: GAE against a plain reference, truncation, reset steps, minibatches,
tensors, state round trip."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from renshu.errors import CheckpointError, ConfigError
from renshu.rollout import Rollout

F32, U8, I64 = np.dtype(np.float32), np.dtype(np.uint8), np.dtype(np.int64)


def reference_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    valid: np.ndarray,
    final_values: np.ndarray,
    last_values: np.ndarray,
    gamma: float,
    lam: float,
) -> tuple[np.ndarray, np.ndarray]:
    """GAE one env and one step at a time, written plainly."""
    steps, envs = rewards.shape
    adv = np.zeros((steps, envs))
    for e in range(envs):
        for t in reversed(range(steps)):
            if not valid[t, e]:
                adv[t, e] = 0.0
                continue
            next_value = values[t + 1, e] if t + 1 < steps else last_values[e]
            if terminated[t, e]:
                target, episode_goes_on = rewards[t, e], False
            elif truncated[t, e]:
                target, episode_goes_on = rewards[t, e] + gamma * final_values[t, e], False
            else:
                target, episode_goes_on = rewards[t, e] + gamma * next_value, True
            delta = target - values[t, e]
            later = adv[t + 1, e] if episode_goes_on and t + 1 < steps else 0.0
            adv[t, e] = delta + gamma * lam * later
    return adv, adv + values


def random_episodes(
    rng: np.random.Generator, steps: int, envs: int, next_step: bool
) -> dict[str, np.ndarray]:
    """Rewards, values, ends of a random rollout; with ``next_step`` every episode end is
    followed by an invalid reset step (Gymnasium NEXT_STEP autoreset)."""
    rewards = rng.normal(size=(steps, envs)).astype(np.float32)
    values = rng.normal(size=(steps, envs)).astype(np.float32)
    terminated = rng.random((steps, envs)) < 0.15
    truncated = rng.random((steps, envs)) < 0.15  # some both: terminated wins
    valid = np.ones((steps, envs), bool)
    if next_step:
        for e in range(envs):
            for t in range(1, steps):
                if terminated[t - 1, e] or truncated[t - 1, e]:
                    valid[t, e] = False
                    terminated[t, e] = truncated[t, e] = False
                    rewards[t, e] = 0.0
    final_values = rng.normal(size=(steps, envs)).astype(np.float32)
    return {
        "rewards": rewards,
        "values": values,
        "terminated": terminated,
        "truncated": truncated,
        "valid": valid,
        "final_values": final_values,
        "last_values": rng.normal(size=envs).astype(np.float32),
    }


def fill(rollout: Rollout, data: dict[str, np.ndarray], with_final: bool = True) -> None:
    for t in range(len(data["rewards"])):
        rollout.add(
            np.full((rollout.num_envs, *rollout.obs_shape), t),
            np.full(rollout.num_envs, t),
            data["rewards"][t],
            data["terminated"][t],
            data["truncated"][t],
            data["values"][t],
            -np.abs(data["values"][t]),
            valid=data["valid"][t],
            final_values=data["final_values"][t] if with_final else None,
        )


def new_rollout(steps: int = 16, envs: int = 4) -> Rollout:
    return Rollout(steps, envs, (2,), F32, (), I64)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("gamma", "lam"), [(0.99, 0.95), (0.9, 1.0), (0.5, 0.0)])
def test_gae_matches_reference_with_terminations_and_truncations(
    seed: int, gamma: float, lam: float
) -> None:
    data = random_episodes(np.random.default_rng(seed), 16, 4, next_step=False)
    rollout = new_rollout()
    fill(rollout, data)
    rollout.compute_returns_and_advantages(data["last_values"], gamma, lam)
    adv, ret = reference_gae(**data, gamma=gamma, lam=lam)
    np.testing.assert_allclose(rollout.advantages, adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rollout.returns, ret, rtol=1e-5, atol=1e-5)
    assert rollout.advantages.dtype == np.float32


@pytest.mark.parametrize("seed", range(5))
def test_gae_with_next_step_reset_steps_matches_reference(seed: int) -> None:
    data = random_episodes(np.random.default_rng(100 + seed), 16, 4, next_step=True)
    assert not data["valid"].all()
    rollout = new_rollout()
    fill(rollout, data)
    rollout.compute_returns_and_advantages(data["last_values"], 0.99, 0.95)
    adv, ret = reference_gae(**data, gamma=0.99, lam=0.95)
    np.testing.assert_allclose(rollout.advantages, adv, rtol=1e-5, atol=1e-5)
    assert (rollout.advantages[~data["valid"]] == 0).all()
    np.testing.assert_allclose(
        rollout.returns[data["valid"]], ret[data["valid"]], rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("seed", range(5))
def test_truncation_without_final_value_bootstraps_from_the_next_step_value(seed: int) -> None:
    """NEXT_STEP autoreset: the observation after a truncated step is the final one, so its
    value (stored at the reset step, or the last values) is V(final_obs)."""
    data = random_episodes(np.random.default_rng(200 + seed), 16, 4, next_step=True)
    data["truncated"][-1, 0], data["terminated"][-1, 0] = True, False  # truncated at the end
    rollout = new_rollout()
    fill(rollout, data, with_final=False)
    rollout.compute_returns_and_advantages(data["last_values"], 0.99, 0.95)
    next_values = np.concatenate([data["values"][1:], data["last_values"][None]])
    adv, _ = reference_gae(**{**data, "final_values": next_values}, gamma=0.99, lam=0.95)
    np.testing.assert_allclose(rollout.advantages, adv, rtol=1e-5, atol=1e-5)


def test_truncated_reward_becomes_reward_plus_discounted_final_value() -> None:
    rollout = Rollout(2, 1, (), F32, (), I64)
    rollout.add([0.0], [0], [1.0], [False], [True], [0.5], [0.0], final_values=[10.0])
    rollout.add([0.0], [0], [2.0], [True], [False], [0.25], [0.0])
    rollout.compute_returns_and_advantages([100.0], gamma=0.9, gae_lambda=0.95)
    # step 0: 1 + 0.9 * 10, no value of step 1 (another episode); step 1: terminated, 2.
    np.testing.assert_allclose(rollout.returns[:, 0], [10.0, 2.0])
    np.testing.assert_allclose(rollout.advantages[:, 0], [9.5, 1.75])


def test_terminated_and_truncated_together_do_not_bootstrap() -> None:
    rollout = Rollout(1, 1, (), F32, (), I64)
    rollout.add([0.0], [0], [1.0], [True], [True], [0.0], [0.0], final_values=[10.0])
    rollout.compute_returns_and_advantages([5.0], gamma=0.9, gae_lambda=0.95)
    assert rollout.returns[0, 0] == 1.0


def test_missing_final_value_before_a_valid_step_is_an_error() -> None:
    rollout = Rollout(2, 2, (), F32, (), I64)
    rollout.add([0.0, 0.0], [0, 0], [1.0, 1.0], [False, False], [False, True], [0, 0], [0, 0])
    rollout.add([0.0, 0.0], [0, 0], [1.0, 1.0], [False, False], [False, False], [0, 0], [0, 0])
    with pytest.raises(ValueError, match="env 1 was truncated at step 0 without a final value"):
        rollout.compute_returns_and_advantages([0.0, 0.0], 0.99, 0.95)


def test_gae_of_a_partial_rollout_uses_the_steps_added() -> None:
    data = random_episodes(np.random.default_rng(7), 16, 4, next_step=False)
    rollout = new_rollout(steps=32)
    fill(rollout, data)
    rollout.compute_returns_and_advantages(data["last_values"], 0.99, 0.95)
    adv, _ = reference_gae(**data, gamma=0.99, lam=0.95)
    np.testing.assert_allclose(rollout.advantages[:16], adv, rtol=1e-5, atol=1e-5)


def test_minibatches_cover_every_valid_index_once_and_never_an_invalid_one() -> None:
    data = random_episodes(np.random.default_rng(3), 16, 4, next_step=True)
    rollout = new_rollout()
    fill(rollout, data)
    valid = np.flatnonzero(data["valid"].reshape(-1))
    assert rollout.n_valid == len(valid) < 64
    rng = np.random.default_rng(0)
    epochs = []
    for _ in range(3):
        batches = list(rollout.minibatches(16, rng))
        assert len(batches) == -(-len(valid) // 16)
        assert all(len(b) <= 16 for b in batches)
        assert max(len(b) for b in batches) - min(len(b) for b in batches) <= 1
        joined = np.concatenate(batches)
        assert sorted(joined.tolist()) == valid.tolist()
        epochs.append(joined)
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch


def test_minibatches_are_reproducible_from_the_generator() -> None:
    rollout = new_rollout()
    fill(rollout, random_episodes(np.random.default_rng(4), 16, 4, next_step=False))
    a = list(rollout.minibatches(8, np.random.default_rng(9)))
    b = list(rollout.minibatches(8, np.random.default_rng(9)))
    assert len(a) == 8 and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_minibatches_reject_bad_batch_size() -> None:
    rollout = new_rollout()
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ConfigError, match="batch_size must be an integer >= 1"):
            list(rollout.minibatches(bad, np.random.default_rng(0)))  # type: ignore[arg-type]


def test_as_tensors_flattens_step_major_and_keeps_dtypes() -> None:
    rollout = Rollout(3, 2, (2, 2), U8, (2,), I64)
    for t in range(3):
        rollout.add(
            np.full((2, 2, 2), 10 * t, np.uint8) + np.arange(2, dtype=np.uint8)[:, None, None],
            torch.tensor([[t, 0], [t, 1]]),
            [1.0, 2.0],
            [False, False],
            [False, False],
            torch.tensor([0.5, 0.25]),
            torch.tensor([-1.0, -2.0]),
            valid=[True, t != 1],
        )
    rollout.compute_returns_and_advantages(torch.zeros(2), 0.99, 0.95)
    batch = rollout.as_tensors("cpu")
    assert batch.obs.dtype == torch.uint8 and batch.obs.shape == (6, 2, 2)
    assert batch.obs[:, 0, 0].tolist() == [0, 1, 10, 11, 20, 21]  # sample t * num_envs + e
    assert batch.actions.dtype == torch.int64 and batch.actions.shape == (6, 2)
    assert batch.actions[:, 1].tolist() == [0, 1, 0, 1, 0, 1]
    assert batch.valid.tolist() == [True, True, True, False, True, True]
    for name in ("log_probs", "values", "advantages", "returns"):
        assert getattr(batch, name).dtype == torch.float32 and getattr(batch, name).shape == (6,)
    torch.testing.assert_close(batch.returns, torch.from_numpy(rollout.returns.reshape(-1)))
    batch.advantages.zero_()  # a copy: the rollout is untouched
    assert rollout.advantages.any()


def test_add_to_a_full_rollout_is_an_error_and_reset_starts_over() -> None:
    rollout = Rollout(1, 1, (), F32, (), I64)
    rollout.add([0.0], [0], [1.0], [False], [False], [0.0], [0.0])
    assert rollout.full
    with pytest.raises(ValueError, match="the rollout is full"):
        rollout.add([0.0], [0], [1.0], [False], [False], [0.0], [0.0])
    rollout.reset()
    assert rollout.pos == 0 and not rollout.full


def test_state_dict_round_trip_mid_rollout_resumes_exactly() -> None:
    data = random_episodes(np.random.default_rng(5), 16, 4, next_step=True)
    first = {k: v[:7] if v.ndim == 2 else v for k, v in data.items()}
    second = {k: v[7:] if v.ndim == 2 else v for k, v in data.items()}
    a = new_rollout()
    fill(a, first)
    state = a.state_dict()
    assert state["pos"] == 7 and isinstance(state["pos"], int)
    assert all(isinstance(v, np.ndarray | int) for v in state.values())
    b = new_rollout()
    b.load_state_dict(state)
    for rollout in (a, b):
        for t in range(9):  # fill the rest
            rollout.add(
                np.full((4, 2), t + 7),
                np.full(4, t + 7),
                second["rewards"][t],
                second["terminated"][t],
                second["truncated"][t],
                second["values"][t],
                -np.abs(second["values"][t]),
                valid=second["valid"][t],
                final_values=second["final_values"][t],
            )
        rollout.compute_returns_and_advantages(data["last_values"], 0.99, 0.95)
    for name, array in a.state_dict().items():
        np.testing.assert_array_equal(array, b.state_dict()[name], err_msg=name)
    ref = new_rollout()
    fill(ref, data)
    ref.compute_returns_and_advantages(data["last_values"], 0.99, 0.95)
    np.testing.assert_array_equal(a.advantages, ref.advantages)


def test_state_dict_is_a_copy() -> None:
    rollout = new_rollout()
    fill(rollout, random_episodes(np.random.default_rng(6), 4, 4, next_step=False))
    state = rollout.state_dict()
    state["rewards"][:] = 99.0
    assert not (rollout.rewards == 99.0).any()


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        ({"num_envs": 8}, "n_steps x num_envs = 16 x 8, this one 16 x 4"),
        ({"pos": 40}, "pos 40 is not in [0, 16]"),
        (
            {"obs": np.zeros((3, 4, 5), np.float32)},
            "obs is float32 (3, 4, 5), expected float32 (3, 4, 2)",
        ),
        ({"valid": np.ones((3, 4), np.float32)}, "valid is float32 (3, 4), expected bool (3, 4)"),
    ],
)
def test_load_state_dict_rejects_mismatches(change: dict[str, Any], phrase: str) -> None:
    rollout = new_rollout()
    fill(rollout, random_episodes(np.random.default_rng(8), 3, 4, next_step=False))
    state = {**rollout.state_dict(), **change}
    with pytest.raises(CheckpointError) as info:
        new_rollout().load_state_dict(state)
    assert phrase in str(info.value)


def test_load_state_dict_names_missing_entries() -> None:
    state = new_rollout().state_dict()
    del state["valid"], state["pos"]
    with pytest.raises(CheckpointError, match="the saved rollout lacks pos, valid"):
        new_rollout().load_state_dict(state)


def test_bad_sizes_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="n_steps must be an integer >= 1, got 0"):
        Rollout(0, 1, (), F32, (), I64)
    with pytest.raises(ConfigError, match=r"num_envs must be an integer >= 1, got 2\.0"):
        Rollout(4, 2.0, (), F32, (), I64)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["next_step", "same_step"])
def test_rollout_of_a_gymnasium_vector_env_in_both_autoreset_modes(mode: str) -> None:
    """How an agent fills a rollout: NEXT_STEP reset steps are invalid and bootstrap the
    truncated step before them; SAME_STEP passes the value of ``info["final_obs"]``."""
    import gymnasium
    from gymnasium.vector import AutoresetMode

    from renshu.actor_critic import build_actor_critic

    torch.manual_seed(0)
    autoreset = AutoresetMode.NEXT_STEP if mode == "next_step" else AutoresetMode.SAME_STEP
    envs = gymnasium.make_vec(
        "CartPole-v1",
        num_envs=2,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": autoreset},
        max_episode_steps=6,
    )
    space = envs.single_observation_space
    ac = build_actor_critic(space.shape, space.dtype, envs.single_action_space)
    rollout = Rollout(20, 2, space.shape, space.dtype, ac.dist.action_shape, ac.dist.action_dtype)
    obs, _ = envs.reset(seed=0)
    ended = np.zeros(2, bool)
    while not rollout.full:
        actions, log_probs, values = ac.act(torch.as_tensor(obs))
        next_obs, rewards, terminated, truncated, info = envs.step(ac.dist.to_env(actions))
        final_values = None
        if mode == "same_step" and truncated.any():
            final_values = np.where(truncated, 0.0, np.nan).astype(np.float32)
            final_values[truncated] = ac.value(
                torch.as_tensor(np.stack(info["final_obs"][truncated]))
            ).detach()
        valid = ~ended if mode == "next_step" else None
        rollout.add(
            obs, actions, rewards, terminated, truncated, values, log_probs, valid, final_values
        )
        ended = terminated | truncated
        obs = next_obs
    envs.close()
    rollout.compute_returns_and_advantages(ac.value(torch.as_tensor(obs)).detach(), 0.99, 0.95)
    assert rollout.truncated.any()
    if mode == "next_step":
        assert not rollout.valid.all()
        ends = rollout.terminated[:-1] | rollout.truncated[:-1]
        assert np.array_equal(~rollout.valid[1:], ends)
        t, e = np.argwhere(rollout.truncated[:-1])[0]
        expected = rollout.rewards[t, e] + 0.99 * rollout.values[t + 1, e]
        assert rollout.returns[t, e] == pytest.approx(expected, rel=1e-5)
    else:
        assert rollout.valid.all()
    batch = rollout.as_tensors()
    assert torch.isfinite(batch.returns).all() and torch.isfinite(batch.advantages).all()


@pytest.mark.parametrize("next_step", [False, True])
def test_minibatches_split_like_array_split_of_the_permuted_valid_indices(
    next_step: bool,
) -> None:
    rollout = new_rollout()
    data = random_episodes(np.random.default_rng(5), 16, 4, next_step=next_step)
    fill(rollout, data)
    valid = np.flatnonzero(data["valid"].reshape(-1))
    for batch_size in (1, 5, 7, 16, 63, 64, 1_000):
        ours = list(rollout.minibatches(batch_size, np.random.default_rng(11)))
        index = np.random.default_rng(11).permutation(valid)
        expected = np.array_split(index, -(-len(index) // batch_size))
        assert len(ours) == len(expected)
        assert all(np.array_equal(a, b) for a, b in zip(ours, expected, strict=True))

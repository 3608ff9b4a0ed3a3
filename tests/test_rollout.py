"""Tests of renshu.rollout: GAE against a plain reference, truncation, reset steps, minibatches,
tensors, state round trip."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from renshu.errors import CheckpointError, ConfigError
from renshu.recurrent import LSTMCore
from renshu.rollout import Rollout, SequenceIndex, gather_sequences

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


# -- recurrent rollouts: episode starts, states at sequence starts, whole-sequence minibatches --
def recurrent_rollout(
    steps: int = 12, envs: int = 3, seq_len: int = 4, hidden: int = 5, seed: int = 0
) -> tuple[Rollout, np.ndarray, np.ndarray]:
    """A full recurrent rollout whose state at step ``t`` of env ``e`` is ``h = t + e / 100``,
    ``c = -h`` (every component); returns it with the episode starts and obs it was given."""
    rng = np.random.default_rng(seed)
    rollout = Rollout(steps, envs, (2,), F32, (), I64, seq_len=seq_len, hidden_size=hidden)
    starts = rng.random((steps, envs)) < 0.2
    obs = rng.normal(size=(steps, envs, 2)).astype(np.float32)
    for t in range(steps):
        h = np.broadcast_to((t + np.arange(envs) / 100)[None, :, None], (1, envs, hidden))
        rollout.add(
            obs[t], np.arange(envs) + 10 * t, rng.normal(size=envs), np.zeros(envs, bool),
            np.zeros(envs, bool), rng.normal(size=envs), rng.normal(size=envs),
            episode_starts=starts[t], state=(torch.tensor(h), torch.tensor(-h)),
        )  # fmt: skip
    return rollout, starts, obs


def test_recurrent_rollout_keeps_the_state_carried_into_each_sequence_start() -> None:
    rollout, starts, _ = recurrent_rollout(steps=12, envs=3, seq_len=4)
    assert rollout.state_h.shape == rollout.state_c.shape == (3, 3, 5)
    for k in range(3):
        expected = np.broadcast_to((4 * k + np.arange(3) / 100)[:, None], (3, 5))
        np.testing.assert_allclose(rollout.state_h[k], expected, rtol=1e-6)
        np.testing.assert_allclose(rollout.state_c[k], -expected, rtol=1e-6)
    assert np.array_equal(rollout.episode_starts, starts)


def test_recurrent_rollout_needs_the_state_only_where_a_sequence_begins() -> None:
    rollout = Rollout(4, 2, (1,), F32, (), I64, seq_len=2, hidden_size=3)
    state = (np.ones((1, 2, 3)), np.ones((1, 2, 3)))
    step = ([[0.0], [0.0]], [0, 0], [0.0, 0.0], [False] * 2, [False] * 2, [0.0] * 2, [0.0] * 2)
    rollout.add(*step, episode_starts=[True, True], state=state)
    rollout.add(*step, episode_starts=[False, False])  # mid-sequence: no state needed
    with pytest.raises(ValueError) as raised:
        rollout.add(*step, episode_starts=[False, False])
    assert str(raised.value) == (
        "step 2 begins sequence 1 (seq_len 2): pass the LSTM state (h, c) carried into it as state="
    )
    with pytest.raises(ValueError, match=r"needs episode_starts at every add\(\)"):
        rollout.add(*step, state=state)
    with pytest.raises(ValueError) as raised:
        rollout.add(*step, episode_starts=[False, False], state=(np.ones((2, 3)),) * 2)
    assert str(raised.value) == (
        "state h must have shape (1, num_envs, hidden_size) = (1, 2, 3), got (2, 3)"
    )


def test_sequence_minibatches_cover_every_sequence_once_in_time_order() -> None:
    rollout, _, _ = recurrent_rollout(steps=12, envs=3, seq_len=4)
    batches = list(rollout.sequence_minibatches(8, np.random.default_rng(0)))
    assert [b.steps.shape for b in batches] == [(4, 2)] * 4 + [(4, 1)]  # 9 sequences, ~2 each
    sequences = np.concatenate([b.sequences for b in batches])
    assert sorted(sequences.tolist()) == list(range(9))
    samples = np.concatenate([b.steps.reshape(-1) for b in batches])
    assert sorted(samples.tolist()) == list(range(12 * 3))  # every sample exactly once
    for batch in batches:
        k, e = np.divmod(batch.sequences, 3)
        t, env = np.divmod(batch.steps, 3)  # flat sample index = t * num_envs + e
        assert (env == e[None]).all()  # one env per column
        assert (t == 4 * k[None] + np.arange(4)[:, None]).all()  # its sequence, in time order


def test_sequence_minibatches_hold_one_sequence_at_least_and_follow_the_generator() -> None:
    rollout, _, _ = recurrent_rollout(steps=8, envs=2, seq_len=4)
    small = list(rollout.sequence_minibatches(1, np.random.default_rng(0)))
    assert [b.steps.shape[1] for b in small] == [1, 1, 1, 1]
    one = list(rollout.sequence_minibatches(10_000, np.random.default_rng(0)))
    assert len(one) == 1 and one[0].steps.shape == (4, 4)
    again = list(rollout.sequence_minibatches(1, np.random.default_rng(0)))
    assert all(np.array_equal(a.steps, b.steps) for a, b in zip(small, again, strict=True))


def test_gather_sequences_gives_time_major_arrays_states_and_starts() -> None:
    rollout, starts, obs = recurrent_rollout(steps=12, envs=3, seq_len=4, hidden=5)
    batch = rollout.as_tensors()
    for minibatch in rollout.sequence_minibatches(8, np.random.default_rng(1)):
        seq = gather_sequences(batch, minibatch)
        k, e = np.divmod(minibatch.sequences, 3)
        rows = 4 * k[None] + np.arange(4)[:, None]  # (T, B) steps of each sequence
        assert np.array_equal(seq.obs.numpy(), obs[rows, e[None]])
        assert np.array_equal(seq.starts.numpy(), starts[rows, e[None]])
        assert np.array_equal(seq.actions.numpy(), rollout.actions[rows, e[None]])
        assert np.array_equal(seq.advantages.numpy(), rollout.advantages[rows, e[None]])
        h, c = seq.state
        assert h.shape == c.shape == (1, len(e), 5)
        np.testing.assert_allclose(h[0, :, 0].numpy(), 4 * k + e / 100, rtol=1e-6)
        np.testing.assert_allclose(c.numpy(), -h.numpy())


def test_unrolling_the_core_from_stored_states_gives_the_outputs_it_had_while_acting() -> None:
    """The oracle: act step by step with LSTMCore.step (resets where episodes start), store the
    rollout, then unroll the core over every gathered sequence: the same outputs."""
    torch.manual_seed(0)
    steps, envs, seq_len, hidden = 12, 4, 3, 6
    core = LSTMCore(2, hidden)
    rng = np.random.default_rng(2)
    rollout = Rollout(steps, envs, (2,), F32, (), I64, seq_len=seq_len, hidden_size=hidden)
    starts = rng.random((steps, envs)) < 0.25
    starts[0] = True
    state = core.initial_state(envs)
    acted = torch.zeros(steps, envs, hidden)
    with torch.no_grad():
        for t in range(steps):
            obs = torch.tensor(rng.normal(size=(envs, 2)), dtype=torch.float32)
            start = torch.tensor(starts[t])
            rollout.add(
                obs, np.zeros(envs), np.zeros(envs), np.zeros(envs, bool), np.zeros(envs, bool),
                np.zeros(envs), np.zeros(envs), episode_starts=start, state=state,
            )  # fmt: skip
            acted[t], state = core.step(obs, state, start)
        batch = rollout.as_tensors()
        seen = 0
        for minibatch in rollout.sequence_minibatches(2 * seq_len, np.random.default_rng(0)):
            seq = gather_sequences(batch, minibatch)
            out, _ = core(seq.obs, seq.state, seq.starts)
            k, e = np.divmod(minibatch.sequences, envs)
            rows = seq_len * k[None] + np.arange(seq_len)[:, None]
            torch.testing.assert_close(out, acted[rows, e[None]], rtol=1e-5, atol=1e-6)
            seen += len(e)
    assert seen == steps // seq_len * envs


@pytest.mark.parametrize("seed", [0, 1])
def test_gae_of_a_recurrent_rollout_is_unchanged(seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = random_episodes(rng, 16, 3, next_step=True)
    plain = Rollout(16, 3, (1,), F32, (), I64)
    memory = Rollout(16, 3, (1,), F32, (), I64, seq_len=4, hidden_size=2)
    state = (np.zeros((1, 3, 2)), np.zeros((1, 3, 2)))
    for t in range(16):
        step = (
            np.zeros((3, 1)), np.zeros(3), data["rewards"][t], data["terminated"][t],
            data["truncated"][t], data["values"][t], np.zeros(3), data["valid"][t],
            data["final_values"][t],
        )  # fmt: skip
        plain.add(*step)
        memory.add(*step, episode_starts=rng.random(3) < 0.3, state=state)
    for rollout in (plain, memory):
        rollout.compute_returns_and_advantages(data["last_values"], gamma=0.9, gae_lambda=0.8)
    assert np.array_equal(plain.advantages, memory.advantages)
    assert np.array_equal(plain.returns, memory.returns)
    a, b = plain.as_tensors(), memory.as_tensors()
    assert all(torch.equal(x, y) for x, y in zip(a[:7], b[:7], strict=True))
    assert a.episode_starts is a.state_h is a.state_c is None  # the plain path stores none


def test_recurrent_state_dict_round_trip_mid_sequence_resumes_exactly() -> None:
    full, _, _ = recurrent_rollout(steps=12, envs=3, seq_len=4)
    partial = Rollout(12, 3, (2,), F32, (), I64, seq_len=4, hidden_size=5)
    source = full.state_dict()
    state = {k: v for k, v in source.items() if not isinstance(v, np.ndarray)}
    state.update({k: v[:6] for k, v in source.items() if isinstance(v, np.ndarray)})
    state.update(pos=6, state_h=source["state_h"][:2], state_c=source["state_c"][:2])
    partial.load_state_dict(state)
    assert partial.pos == 6
    saved = partial.state_dict()
    assert saved["state_h"].shape == (2, 3, 5) and saved["episode_starts"].shape == (6, 3)
    np.testing.assert_array_equal(partial.state_h[:2], full.state_h[:2])
    np.testing.assert_array_equal(partial.episode_starts[:6], full.episode_starts[:6])
    with pytest.raises(CheckpointError, match="lacks episode_starts, state_c, state_h"):
        partial.load_state_dict({k: v for k, v in state.items() if not k.startswith(("ep", "st"))})
    with pytest.raises(CheckpointError, match=r"state_h is float32 \(3, 3, 5\), expected"):
        partial.load_state_dict({**state, "state_h": source["state_h"]})


def test_recurrent_rollout_argument_and_misuse_messages() -> None:
    with pytest.raises(ConfigError) as raised:
        Rollout(10, 2, (1,), F32, (), I64, seq_len=4, hidden_size=8)
    assert str(raised.value) == (
        "seq_len must divide n_steps so that every sequence is whole: n_steps 10 is not a "
        "multiple of seq_len 4; choose one of [1, 2, 5, 10] (or change n_steps)"
    )
    with pytest.raises(ConfigError) as raised:
        Rollout(8, 2, (1,), F32, (), I64, seq_len=4)
    assert str(raised.value) == (
        "a recurrent rollout needs both seq_len and hidden_size; seq_len was given without "
        "hidden_size"
    )
    with pytest.raises(ConfigError, match="hidden_size must be an integer >= 1, got 0"):
        Rollout(8, 2, (1,), F32, (), I64, seq_len=4, hidden_size=0)
    plain = Rollout(2, 1, (1,), F32, (), I64)
    step = ([[0.0]], [0], [0.0], [False], [False], [0.0], [0.0])
    with pytest.raises(ValueError, match="stored by a recurrent rollout only"):
        plain.add(*step, episode_starts=[True])
    plain.add(*step)
    with pytest.raises(ValueError, match="needs a recurrent rollout"):
        next(plain.sequence_minibatches(1, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="needs the tensors of a recurrent rollout"):
        gather_sequences(plain.as_tensors(), SequenceIndex(np.zeros((1, 1), int), np.zeros(1, int)))
    memory = Rollout(4, 1, (1,), F32, (), I64, seq_len=2, hidden_size=1)
    memory.add(*step, episode_starts=[True], state=(np.zeros((1, 1, 1)),) * 2)
    with pytest.raises(ValueError, match="needs a full rollout: 1 of 4 steps added"):
        next(memory.sequence_minibatches(2, np.random.default_rng(0)))

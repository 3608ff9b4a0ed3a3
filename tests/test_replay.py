"""Tests of renshu.replay: storage layout, n-step returns, frame windows, PER, state."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import torch

from renshu.errors import ConfigError
from renshu.replay import Batch, FrameStack, ReplayBuffer, SumTree

# Frames for the oracle tests: float32 (2,) = [frame id, env + 1]; ids start at 1, so an all-zero
# frame is the padding before an episode start.
ID_SPACE = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float32)


def id_frames(ids: np.ndarray, envs: np.ndarray) -> np.ndarray:
    return np.stack([ids, envs + 1], axis=1).astype(np.float32)


@dataclass
class Step:
    obs: int
    action: int
    reward: float
    next: int
    term: bool
    trunc: bool


@dataclass
class Sim:
    """Drives a buffer with ``E`` envs of random episodes and logs every stored step."""

    buffer: ReplayBuffer
    rng: np.random.Generator
    p_term: float = 0.1
    p_trunc: float = 0.1
    episodes: list[list[list[Step]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        E = self.buffer.num_envs
        self.next_id = 1
        self.obs = self.new_ids(E)
        self.episodes = [[[]] for _ in range(E)]

    def new_ids(self, k: int) -> np.ndarray:
        ids = np.arange(self.next_id, self.next_id + k)
        self.next_id += k
        return ids

    def step(self, mask: np.ndarray | None = None, force: str | None = None) -> None:
        E, envs = self.buffer.num_envs, np.arange(self.buffer.num_envs)
        actions = self.rng.integers(0, 4, E)
        rewards = self.rng.integers(-3, 4, E).astype(np.float32)
        nxt = self.new_ids(E)
        term = self.rng.random(E) < self.p_term
        trunc = ~term & (self.rng.random(E) < self.p_trunc)
        if force == "term":
            term, trunc = np.ones(E, bool), np.zeros(E, bool)
        elif force == "trunc":
            term, trunc = np.zeros(E, bool), np.ones(E, bool)
        elif force == "none":
            term, trunc = np.zeros(E, bool), np.zeros(E, bool)
        self.buffer.add(
            id_frames(self.obs, envs), actions, rewards, id_frames(nxt, envs), term, trunc, mask
        )
        stored = np.ones(E, bool) if mask is None else np.asarray(mask)
        done = term | trunc
        for e in range(E):
            if not stored[e]:
                continue
            self.episodes[e][-1].append(
                Step(
                    int(self.obs[e]),
                    int(actions[e]),
                    float(rewards[e]),
                    int(nxt[e]),
                    term[e],
                    trunc[e],
                )
            )
            if done[e]:
                self.episodes[e].append([])
        resets = self.new_ids(E)
        self.obs = np.where(stored & done, resets, np.where(stored, nxt, self.obs))


@dataclass
class Expected:
    env: int
    window: list[int]
    action: int
    ret: float
    next_window: list[int]
    done: float
    discount: float


def oracle(sim: Sim) -> dict[int, Expected]:
    """Every sampleable transition, keyed by its obs frame id, computed in plain Python."""
    buf = sim.buffer
    W, n, g, T = buf.window, buf.n_step, buf.gamma, buf.slots_per_env
    out: dict[int, Expected] = {}
    for e, episodes in enumerate(sim.episodes):
        episodes = [ep for ep in episodes if ep]
        written = sum(len(ep) + 1 for ep in episodes)
        base = 0
        for ep in episodes:
            L = len(ep)
            ended = ep[-1].term or ep[-1].trunc
            seq = [s.obs for s in ep] + [ep[-1].next]

            def window(pos: int, seq: list[int] = seq) -> list[int]:
                return [seq[p] if p >= 0 else 0 for p in range(pos - W + 1, pos + 1)]

            for i, s in enumerate(ep):
                k = min(n, L - i)
                if k < n and not ended:
                    continue  # look-ahead incomplete
                if base + i - min(W - 1, i) < written - T:
                    continue  # part of its window was overwritten
                ret = sum(g**j * ep[i + j].reward for j in range(k))
                done = float(i + k == L and ep[-1].term)
                out[s.obs] = Expected(e, window(i), s.action, ret, window(i + k), done, g**k)
            base += L + 1
    return out


def ids_of(obs: torch.Tensor, window: int) -> np.ndarray:
    """(B, W) frame ids (0 = padding) from sampled ID_SPACE observations."""
    a = obs.numpy()
    return (a[..., 0] if window > 1 else a[:, None, 0]).astype(np.int64)


def check_against_oracle(sim: Sim, rounds: int = 200) -> None:
    """Sampled transitions match the oracle; sampling until every expected one was seen."""
    buf = sim.buffer
    expected = oracle(sim)
    assert buf.num_sampleable == len(expected)
    seen: set[int] = set()
    for _ in range(rounds):
        if seen == set(expected):
            break
        batch = buf.sample(len(buf), beta=0.5)
        obs_ids, next_ids = ids_of(batch.obs, buf.window), ids_of(batch.next_obs, buf.window)
        obs_env = (
            batch.obs.numpy()[..., -1] if buf.window == 1 else batch.obs.numpy()[:, -1, 1]
        ) - 1
        for b in range(len(batch.indices)):
            x = expected[int(obs_ids[b, -1])]
            assert int(obs_env[b]) == x.env
            assert batch.indices[b] % buf.num_envs == x.env
            assert obs_ids[b].tolist() == x.window
            assert next_ids[b].tolist() == x.next_window
            assert int(batch.actions[b]) == x.action
            assert float(batch.rewards[b]) == pytest.approx(x.ret, rel=1e-6, abs=1e-6)
            assert float(batch.dones[b]) == x.done
            assert float(batch.discounts[b]) == pytest.approx(x.discount, rel=1e-6)
            seen.add(int(obs_ids[b, -1]))
    assert seen == set(expected)


def make_buffer(**kwargs: object) -> ReplayBuffer:
    kwargs.setdefault("gamma", 0.9)
    kwargs.setdefault("seed", 0)
    capacity = kwargs.pop("capacity", 60)
    return ReplayBuffer(capacity, ID_SPACE, **kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- n-step returns
def test_nstep_hand_computed_termination_and_truncation() -> None:
    """gamma 0.5, n 3. Episode A: rewards 1, 2, 4, 8, terminated; episode B: 1, 1, truncated."""
    space = gymnasium.spaces.Box(0, 100, (1,), np.float32)
    buf = ReplayBuffer(50, space, n_step=3, gamma=0.5, seed=0)

    def add(obs: int, reward: float, nxt: int, term: bool = False, trunc: bool = False) -> None:
        buf.add(
            np.array([[obs]], np.float32), np.array([obs % 3]), np.array([reward]),
            np.array([[nxt]], np.float32), np.array([term]), np.array([trunc]),
        )  # fmt: skip

    add(10, 1, 11)
    add(11, 2, 12)
    add(12, 4, 13)
    add(13, 8, 14, term=True)  # final obs 14 goes to a pad slot
    add(20, 1, 21)
    add(21, 1, 22, trunc=True)  # final obs 22 goes to a pad slot
    assert len(buf) == 6 and buf.num_sampleable == 6

    # obs: (return, next obs, done, discount)
    want = {
        10: (1 + 0.5 * 2 + 0.25 * 4, 13, 0.0, 0.125),  # 3.0
        11: (2 + 0.5 * 4 + 0.25 * 8, 14, 1.0, 0.125),  # 6.0, ends in the termination
        12: (4 + 0.5 * 8, 14, 1.0, 0.25),  # 8.0, stops at the episode end
        13: (8.0, 14, 1.0, 0.5),
        20: (1 + 0.5 * 1, 22, 0.0, 0.25),  # 1.5, truncated: bootstrap from 22
        21: (1.0, 22, 0.0, 0.5),
    }
    seen = set()
    for _ in range(20):
        batch = buf.sample(6)
        for obs, ret, nxt, done, disc in zip(
            batch.obs[:, 0].tolist(), batch.rewards.tolist(), batch.next_obs[:, 0].tolist(),
            batch.dones.tolist(), batch.discounts.tolist(), strict=True,
        ):  # fmt: skip
            assert (ret, nxt, done, disc) == want[int(obs)]
            seen.add(int(obs))
    assert seen == set(want)  # pads (14, 22) never start a transition


def test_nstep_waits_for_lookahead() -> None:
    buf = make_buffer(n_step=3)
    sim = Sim(buf, np.random.default_rng(0), p_term=0, p_trunc=0)
    sim.step()
    sim.step()
    assert len(buf) == 2 and buf.num_sampleable == 0
    with pytest.raises(ConfigError, match="none of the 2 stored transitions can be sampled yet"):
        buf.sample(1)
    sim.step()
    assert buf.num_sampleable == 1
    check_against_oracle(sim)


@pytest.mark.parametrize("n_step", [1, 2, 4])
@pytest.mark.parametrize("window", [1, 3])
@pytest.mark.parametrize("num_envs", [1, 3])
@pytest.mark.parametrize("capacity", [17, 300])
def test_matches_oracle(n_step: int, window: int, num_envs: int, capacity: int) -> None:
    """Returns, dones, discounts, windows and validity match a plain-Python oracle, through
    terminations, truncations and (capacity 17) many ring wraps."""
    buf = make_buffer(capacity=capacity, n_step=n_step, window=window, num_envs=num_envs)
    sim = Sim(buf, np.random.default_rng(n_step * 100 + window * 10 + num_envs))
    for step in range(80):
        sim.step()
        if step % 20 == 19:
            check_against_oracle(sim)
    check_against_oracle(sim)


def test_one_step_is_plain_one_step() -> None:
    buf = make_buffer(n_step=1, capacity=500)
    sim = Sim(buf, np.random.default_rng(1))
    for _ in range(100):
        sim.step()
    steps = {s.obs: s for ep in sim.episodes[0] for s in ep}
    batch = buf.sample(len(buf))
    for b in range(len(batch.indices)):
        s = steps[int(batch.obs[b, 0])]
        assert float(batch.rewards[b]) == s.reward
        assert int(batch.next_obs[b, 0]) == s.next
        assert float(batch.dones[b]) == float(s.term)
        assert float(batch.discounts[b]) == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("num_envs", "capacity", "window"),
    [(1, 7, 1), (1, 40, 1), (3, 20, 1), (3, 90, 1), (1, 6, 4), (1, 40, 3), (3, 20, 2), (2, 90, 5)],
)
def test_one_step_fast_path_equals_general_path(num_envs: int, capacity: int, window: int) -> None:
    """n_step 1, uniform: add/sample take a fast path; the general path, forced on a twin buffer,
    must leave the same state and draw the same batches, through ring wraps, masks and
    end_episodes."""
    fast, general = (
        make_buffer(capacity=capacity, num_envs=num_envs, window=window),
        make_buffer(capacity=capacity, num_envs=num_envs, window=window),
    )
    general._one_step = False
    assert fast._one_step
    sims = [
        Sim(buf, np.random.default_rng(21), p_term=0.15, p_trunc=0.1) for buf in (fast, general)
    ]
    rng = np.random.default_rng(5)
    for step in range(150):
        mask = rng.random(num_envs) < 0.8 if step % 3 == 0 else None
        for sim in sims:
            sim.step(mask=mask)
        if step % 37 == 36:
            frames = id_frames(np.full(num_envs, 10_000 + step), np.arange(num_envs))
            for buf in (fast, general):
                buf.end_episodes(frames)
        for name, array in fast._arrays().items():
            np.testing.assert_array_equal(array, general._arrays()[name], err_msg=name)
        assert (len(fast), fast.num_sampleable) == (len(general), general.num_sampleable)
        if fast.num_sampleable and step % 5 == 0:
            batch_size = min(len(fast), 16)
            a, b = fast.sample(batch_size), general.sample(batch_size)
            for name, x, y in zip(Batch._fields, a, b, strict=True):
                np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=name)
                assert np.asarray(x).dtype == np.asarray(y).dtype, name


def test_sample_arrays_equals_sample() -> None:
    a, b = (
        make_buffer(capacity=50, n_step=2, window=2),
        make_buffer(capacity=50, n_step=2, window=2),
    )
    for buf in (a, b):
        sim = Sim(buf, np.random.default_rng(4))
        for _ in range(30):
            sim.step()
    tensors, arrays = a.sample(8, beta=0.5), b.sample_arrays(8, beta=0.5)
    for name, x, y in zip(Batch._fields, tensors, arrays, strict=True):
        np.testing.assert_array_equal(np.asarray(x), y, err_msg=name)


def test_truncation_keeps_final_obs_and_bootstraps_termination_does_not() -> None:
    buf = make_buffer(capacity=100)
    sim = Sim(buf, np.random.default_rng(2), p_term=0, p_trunc=0)
    sim.step(force="none")
    sim.step(force="trunc")
    sim.step(force="none")
    sim.step(force="term")
    trunc_step, term_step = sim.episodes[0][0][-1], sim.episodes[0][1][-1]
    assert len(buf) == 4  # the two final observations sit in pad slots, not counted
    batch = buf.sample(len(buf))
    by_obs = {int(o): b for b, o in enumerate(batch.obs[:, 0].tolist())}
    for _ in range(10):
        if {trunc_step.obs, term_step.obs} <= set(by_obs):
            break
        batch = buf.sample(len(buf))
        by_obs = {int(o): b for b, o in enumerate(batch.obs[:, 0].tolist())}
    b = by_obs[trunc_step.obs]
    assert int(batch.next_obs[b, 0]) == trunc_step.next  # final obs stored once, in the pad
    assert float(batch.dones[b]) == 0.0 and float(batch.discounts[b]) == pytest.approx(0.9)
    b = by_obs[term_step.obs]
    assert int(batch.next_obs[b, 0]) == term_step.next
    assert float(batch.dones[b]) == 1.0


def test_end_episodes_truncates_running_episodes() -> None:
    buf = make_buffer(capacity=100, num_envs=2, window=2, n_step=2)
    sim = Sim(buf, np.random.default_rng(3), p_term=0, p_trunc=0)
    for _ in range(3):
        sim.step()
    assert buf.num_sampleable == 4  # the newest step of each env waits for its look-ahead
    buf.end_episodes(id_frames(sim.obs, np.arange(2)), mask=np.array([True, False]))
    assert buf.num_sampleable == 5
    for ep in sim.episodes[0]:
        ep[-1].trunc = True  # what the buffer now believes about env 0
    sim.episodes[0].append([])
    sim.obs[0] = sim.new_ids(1)[0]
    sim.step()
    check_against_oracle(sim)


# ----------------------------------------------------------------------------- layout
def test_multi_env_storage_keeps_envs_apart() -> None:
    buf = make_buffer(capacity=100, num_envs=3, window=2, n_step=2)
    assert buf.slots_per_env == 34  # ceil(100 / 3)
    sim = Sim(buf, np.random.default_rng(4))
    for _ in range(60):
        sim.step()
    batch = buf.sample(len(buf))
    env_obs = batch.obs.numpy()[:, :, 1]
    env_next = batch.next_obs.numpy()[:, :, 1]
    for b in range(len(batch.indices)):
        markers = set(env_obs[b]) | set(env_next[b])
        assert markers - {0.0} == {batch.indices[b] % 3 + 1}
    check_against_oracle(sim)


def test_mask_skips_envs() -> None:
    buf = make_buffer(capacity=100, num_envs=3)
    sim = Sim(buf, np.random.default_rng(5), p_term=0, p_trunc=0)
    sim.step()
    assert len(buf) == 3
    sim.step(mask=np.array([True, False, True]))
    assert len(buf) == 5
    sim.step(mask=np.array([False, False, False]))
    assert len(buf) == 5
    check_against_oracle(sim)


def test_next_step_autoreset_flow() -> None:
    """Gymnasium NEXT_STEP: the step after an episode end is a reset, skipped with mask."""
    buf = make_buffer(capacity=100, num_envs=2, window=2)
    sim = Sim(buf, np.random.default_rng(6), p_term=0, p_trunc=0)
    sim.step()
    sim.step(force="term")
    sim.step(mask=np.array([False, False]))  # the reset step: nothing stored
    sim.step()
    sim.step()
    assert len(buf) == 5 * 2 - 2
    check_against_oracle(sim)


def test_uint8_stays_uint8() -> None:
    space = gymnasium.spaces.Box(0, 255, (6, 6), np.uint8)
    buf = ReplayBuffer(50, space, window=4, seed=0)
    frame = np.full((1, 6, 6), 200, np.uint8)
    for _ in range(5):
        buf.add(frame, np.array([1]), np.array([0.5]), frame, np.array([False]), np.array([False]))
    batch = buf.sample(3)
    assert buf._frames.dtype == np.uint8
    assert batch.obs.dtype == torch.uint8 and batch.next_obs.dtype == torch.uint8
    assert batch.obs.shape == (3, 4, 6, 6)
    assert batch.actions.dtype == torch.int64
    for name in ("rewards", "dones", "discounts", "weights"):
        assert getattr(batch, name).dtype == torch.float32
    assert batch.indices.dtype == np.int64


@pytest.mark.parametrize("window", [1, 4])
def test_nbytes_per_transition_is_one_frame_plus_scalars(window: int) -> None:
    """48x48 uint8 frames, episodes of 100 steps: bytes per transition ~ one frame + scalars."""
    space = gymnasium.spaces.Box(0, 255, (48, 48), np.uint8)
    buf = ReplayBuffer(4000, space, num_envs=2, window=window, n_step=3, seed=0)
    frames = np.zeros((2, 48, 48), np.uint8)
    zeros, ones = np.zeros(2, bool), np.ones(2, bool)
    for step in range(3000):
        trunc = ones if step % 100 == 99 else zeros
        buf.add(frames, np.zeros(2, np.int64), np.ones(2), frames, zeros, trunc)
    frame_bytes = 48 * 48
    slots = buf.slots_per_env * buf.num_envs
    per_slot = buf.nbytes / slots
    assert per_slot <= frame_bytes + 24  # frame + action, reward, flags, kind, back, valid
    assert buf.nbytes / len(buf) <= 1.1 * per_slot
    assert buf.nbytes / len(buf) <= 1.1 * (frame_bytes + 24)


# ----------------------------------------------------------------------------- frame window
def test_window_never_crosses_episode_start_and_matches_framestack() -> None:
    """uint8 frames; what FrameStack gave while acting is what the buffer rebuilds."""
    E, W = 2, 4
    space = gymnasium.spaces.Box(0, 255, (3, 4), np.uint8)
    buf = ReplayBuffer(64, space, num_envs=E, window=W, n_step=2, seed=0)
    stack = FrameStack(E, W, space)
    rng = np.random.default_rng(7)
    next_id = 1
    episode_of: dict[int, tuple[int, int]] = {}
    stacks: dict[int, np.ndarray] = {}  # newest frame id -> acting window

    def frames_for(ids: np.ndarray) -> np.ndarray:
        f = np.ones((len(ids), 3, 4), np.uint8)
        f[:, 0, 0], f[:, 0, 1] = ids % 256, ids // 256
        return f

    def decode(window: np.ndarray) -> np.ndarray:
        ids = window[..., 0, 0].astype(np.int64) + 256 * window[..., 0, 1].astype(np.int64)
        return np.where(window[..., 1, 0] == 0, 0, ids)

    def new_ids(k: int) -> np.ndarray:
        nonlocal next_id
        ids = np.arange(next_id, next_id + k)
        next_id += k
        return ids

    episode = np.arange(E)
    obs_ids = new_ids(E)
    window = stack.reset(frames_for(obs_ids))
    for e in range(E):
        episode_of[int(obs_ids[e])] = (e, int(episode[e]))
        stacks[int(obs_ids[e])] = window[e]
    for _ in range(150):
        nxt = new_ids(E)
        term = rng.random(E) < 0.1
        trunc = ~term & (rng.random(E) < 0.1)
        done = term | trunc
        buf.add(
            frames_for(obs_ids), rng.integers(0, 3, E), np.ones(E), frames_for(nxt), term, trunc
        )
        window = stack.push(frames_for(nxt))
        for e in range(E):
            episode_of[int(nxt[e])] = (e, int(episode[e]))
            stacks[int(nxt[e])] = window[e]
        if done.any():
            episode = np.where(done, episode + E, episode)
            resets = new_ids(E)
            window = stack.reset(frames_for(resets), mask=done)
            for env in np.flatnonzero(done):
                episode_of[int(resets[env])] = (int(env), int(episode[env]))
                stacks[int(resets[env])] = window[env]
            obs_ids = np.where(done, resets, nxt)
        else:
            obs_ids = nxt

    batch = buf.sample(len(buf))
    for field_ in (batch.obs.numpy(), batch.next_obs.numpy()):
        ids = decode(field_)
        assert (ids[:, -1] > 0).all()
        for b in range(len(ids)):
            np.testing.assert_array_equal(field_[b], stacks[int(ids[b, -1])])
            episodes = {episode_of[int(i)] for i in ids[b] if i > 0}
            assert len(episodes) == 1  # never crosses an episode start
            real = ids[b] > 0  # zeros only before the first frame
            assert real.tolist() == sorted(real.tolist())


def test_framestack_shapes_and_reset_mask() -> None:
    space = gymnasium.spaces.Box(0, 9, (2,), np.int64)
    stack = FrameStack(2, 3, space)
    out = stack.reset(np.array([[1, 1], [2, 2]]))
    assert out.shape == (2, 3, 2)
    assert out[:, :, 0].tolist() == [[0, 0, 1], [0, 0, 2]]
    out = stack.push(np.array([[3, 3], [4, 4]]))
    assert out[:, :, 0].tolist() == [[0, 1, 3], [0, 2, 4]]
    out = stack.reset(np.array([[5, 5], [6, 6]]), mask=np.array([False, True]))
    assert out[:, :, 0].tolist() == [[0, 1, 3], [0, 0, 6]]
    out[:] = 9  # a copy: the stack itself is unchanged
    assert stack.push(np.array([[7, 7], [8, 8]]))[:, :, 0].tolist() == [[1, 3, 7], [0, 6, 8]]
    single = FrameStack(2, 1, space)
    assert single.reset(np.array([[1, 1], [2, 2]])).shape == (2, 2)
    assert single.push(np.array([[3, 3], [4, 4]])).tolist() == [[3, 3], [4, 4]]


# ----------------------------------------------------------------------------- sum tree / PER
@pytest.mark.parametrize(("size", "branching"), [(10, 2), (10, 32), (1000, 32), (1000, 3)])
def test_sum_tree_any_size(size: int, branching: int) -> None:
    rng = np.random.default_rng(size + branching)
    tree = SumTree(size, branching)
    p = rng.random(size) * (rng.random(size) < 0.7)  # some zeros
    tree.update(np.arange(size), p)
    assert tree.total == pytest.approx(p.sum())
    assert tree.min == p[p > 0].min()
    np.testing.assert_array_equal(tree.values(), p)
    cum = np.cumsum(p)
    mass = rng.random(500) * p.sum()
    found = tree.find(mass)
    np.testing.assert_array_equal(found, np.searchsorted(cum, mass, side="right"))
    assert (p[tree.find(np.array([0.0, p.sum(), p.sum() * 2]))] > 0).all()  # ends: never a zero
    tree.update(np.array([int(found[0])]), 0.0)
    assert tree.total == pytest.approx(p.sum() - p[found[0]])


def test_sum_tree_sampling_frequencies_are_proportional() -> None:
    size = 10  # not a power of two
    p = np.array([0.0, 1.0, 2.0, 3.0, 0.0, 5.0, 0.5, 8.0, 0.25, 4.0])
    tree = SumTree(size, branching=2)
    tree.update(np.arange(size), p)
    rng = np.random.default_rng(0)
    counts = np.bincount(
        np.concatenate([tree.sample(1000, rng) for _ in range(100)]), minlength=size
    )
    expected = p / p.sum() * counts.sum()
    assert counts[p == 0].sum() == 0
    chi2 = ((counts - expected)[p > 0] ** 2 / expected[p > 0]).sum()
    assert chi2 < 30  # 7 degrees of freedom; stratification makes it far smaller in practice


def test_prioritized_sampling_and_weights() -> None:
    buf = make_buffer(capacity=40, prioritized=True, alpha=0.5, eps=1e-3)
    sim = Sim(buf, np.random.default_rng(8), p_term=0.2, p_trunc=0.0)
    for _ in range(30):  # wraps the 40-slot ring
        sim.step()
    valid = np.flatnonzero(buf._valid.reshape(-1))
    assert valid.size == buf.num_sampleable
    td = np.arange(1, valid.size + 1, dtype=np.float64)
    buf.update_priorities(valid, torch.tensor(-td))  # tensors accepted, sign ignored
    prio = np.sqrt(td + 1e-3)  # (|p| + eps) ** alpha
    counts = np.zeros(buf.slots_per_env, np.int64)
    for _ in range(200):
        batch = buf.sample(len(buf), beta=0.6)
        np.add.at(counts, batch.indices, 1)
        np.testing.assert_allclose(
            batch.weights.numpy(),
            (prio[np.searchsorted(valid, batch.indices)] / prio.min()) ** -0.6,
            rtol=1e-6,
        )
        assert batch.weights.max() <= 1.0
    assert counts.sum() == counts[valid].sum()  # pads and unfinished slots never sampled
    expected = prio / prio.sum() * counts.sum()
    chi2 = ((counts[valid] - expected) ** 2 / expected).sum()
    assert chi2 < 3 * valid.size
    check_against_oracle(sim)


def test_new_transitions_get_max_priority() -> None:
    buf = make_buffer(capacity=100, prioritized=True, alpha=1.0, eps=0.5)
    sim = Sim(buf, np.random.default_rng(9), p_term=0, p_trunc=0)
    for _ in range(5):
        sim.step()
    batch = buf.sample(4)
    buf.update_priorities(batch.indices, np.full(4, 7.0))
    sim.step()
    newest = int(np.flatnonzero(buf._valid.reshape(-1)).max())
    assert buf._tree is not None and buf._tree.get([newest])[0] == 7.5  # (7 + 0.5) ** 1


def test_overwritten_slot_gets_max_priority_not_the_old_one() -> None:
    buf = make_buffer(capacity=10, prioritized=True, alpha=1.0, eps=0.01)
    sim = Sim(buf, np.random.default_rng(14), p_term=0, p_trunc=0)
    for _ in range(20):  # the ring is full and wraps
        sim.step()
    sim.step(force="term")  # the next obs starts an episode in a slot that holds an old start
    valid = np.flatnonzero(buf._valid.reshape(-1))
    buf.update_priorities(valid, np.zeros(valid.size))  # all at 0.01; max stays at 1.0
    assert buf._valid.reshape(-1)[buf._head[0] % buf.slots_per_env]
    sim.step()  # overwrites that valid slot with a new transition, valid at once (n_step=1)
    newest = (buf._head[0] - 1) % buf.slots_per_env  # its slot (num_envs=1)
    assert buf._tree is not None and buf._tree.get([newest])[0] == 1.0


def test_update_priorities_repeated_stale_and_uniform() -> None:
    buf = make_buffer(capacity=100, prioritized=True, alpha=1.0, eps=0.5)
    sim = Sim(buf, np.random.default_rng(15), p_term=0, p_trunc=0)
    for _ in range(10):
        sim.step()
    buf.update_priorities(np.array([2, 3, 2, 2]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert buf._tree is not None
    assert buf._tree.get([2, 3]).tolist() == [4.5, 2.5]  # repeated slot: the last one wins
    buf.update_priorities(np.array([10]), np.array([9.0]))  # the newest frame: not a start
    assert buf._tree.get([10])[0] == 0.0
    with pytest.raises(ConfigError, match=r"priorities must be finite"):
        buf.update_priorities(np.array([1]), np.array([np.nan]))
    with pytest.raises(ConfigError, match=r"indices must be in \[0, 99\], got 100..100"):
        buf.update_priorities(np.array([100]), np.array([1.0]))
    uniform = make_buffer()
    uniform.update_priorities(np.array([0]), np.array([1.0]))  # a no-op without PER


def test_prioritized_matches_oracle_through_wraps() -> None:
    buf = make_buffer(capacity=23, prioritized=True, n_step=2, window=2, num_envs=2)
    sim = Sim(buf, np.random.default_rng(10))
    rng = np.random.default_rng(11)
    for _ in range(60):
        sim.step()
        if buf.num_sampleable:
            batch = buf.sample(min(4, len(buf)))
            buf.update_priorities(batch.indices, rng.random(len(batch.indices)) * 3)
    tree_mass = buf._tree.values() if buf._tree is not None else None
    assert tree_mass is not None
    np.testing.assert_array_equal(tree_mass > 0, buf._valid.reshape(-1))
    check_against_oracle(sim)


# ----------------------------------------------------------------------------- state
@pytest.mark.parametrize("prioritized", [False, True])
def test_state_dict_round_trip_gives_identical_samples(tmp_path: Path, prioritized: bool) -> None:
    kwargs = {"capacity": 50, "n_step": 2, "window": 3, "num_envs": 2, "prioritized": prioritized}
    buf = make_buffer(**kwargs)
    sim = Sim(buf, np.random.default_rng(12))
    for _ in range(40):
        sim.step()
    buf.sample(8)  # advance the RNG
    arrays: dict[str, Any] = buf.state_dict()
    np.savez(tmp_path / "replay.npz", **arrays)
    with np.load(tmp_path / "replay.npz", allow_pickle=False) as data:
        state = dict(data)
    other = make_buffer(**{**kwargs, "seed": 99})
    other.load_state_dict(state)
    assert len(other) == len(buf) and other.num_sampleable == buf.num_sampleable
    assert other.nbytes == buf.nbytes

    def same(a: Batch, b: Batch) -> None:
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))

    for _ in range(3):
        a, b = buf.sample(16, beta=0.7), other.sample(16, beta=0.7)
        same(a, b)
        buf.update_priorities(a.indices, np.arange(16.0))
        other.update_priorities(b.indices, np.arange(16.0))
    frames = id_frames(np.array([1000, 1001]), np.arange(2))
    for target in (buf, other):
        target.add(frames, np.array([1, 2]), np.array([1.0, 2.0]), frames, np.zeros(2, bool),
                   np.array([True, False]))  # fmt: skip
    same(buf.sample(16), other.sample(16))


def test_load_state_dict_rejects_other_configuration() -> None:
    buf = make_buffer(capacity=50, window=2)
    with pytest.raises(ConfigError, match=r"window: saved 2, this buffer 3"):
        make_buffer(capacity=50, window=3).load_state_dict(buf.state_dict())


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capacity": 0}, "capacity must be an integer >= 1, got 0"),
        ({"window": 0}, "window must be an integer >= 1, got 0"),
        ({"n_step": 0}, "n_step must be an integer >= 1, got 0"),
        ({"num_envs": 0}, "num_envs must be an integer >= 1, got 0"),
        ({"gamma": 1.5}, "gamma must be a number in [0.0, 1.0], got 1.5"),
        ({"gamma": -0.1}, "gamma must be a number in [0.0, 1.0], got -0.1"),
        ({"eps": 0.0}, "eps must be a number in (0.0, inf], got 0.0"),
        (
            {"capacity": 5, "num_envs": 2, "n_step": 3},
            "capacity must give each env at least n_step + 1 = 4 slots, i.e. capacity >= 8 with "
            "num_envs=2, got 5",
        ),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_buffer(**kwargs)
    assert str(info.value) == message


def test_bad_batch_size_says_how_many_are_stored() -> None:
    buf = make_buffer()
    sim = Sim(buf, np.random.default_rng(13), p_term=0, p_trunc=0)
    for _ in range(10):
        sim.step()
    with pytest.raises(ConfigError) as info:
        buf.sample(64)
    assert str(info.value) == (
        "batch_size must be an integer in [1, 10] (the number of transitions stored in the "
        "replay buffer), got 64; store more transitions before sampling "
        "(warmup_steps >= batch_size)"
    )
    with pytest.raises(ConfigError, match=r"batch_size must be an integer in \[1, 10\]"):
        buf.sample(0)


def test_bad_shapes() -> None:
    buf = make_buffer(num_envs=2)
    good = np.zeros((2, 2), np.float32)
    stacked = np.zeros((2, 4, 2), np.float32)
    flags = np.zeros(2, bool)
    with pytest.raises(ConfigError) as info:
        buf.add(stacked, np.zeros(2), np.zeros(2), good, flags, flags)
    assert str(info.value) == (
        "obs must have shape (num_envs, *frame_shape) = (2, 2) (single frames, not stacked "
        "windows), got (2, 4, 2)"
    )
    with pytest.raises(ConfigError, match=r"rewards must hold one value per env \(2\)"):
        buf.add(good, np.zeros(2), np.zeros(3), good, flags, flags)
    with pytest.raises(ConfigError, match=r"frame_space must be a gymnasium\.spaces\.Box"):
        ReplayBuffer(10, gymnasium.spaces.Discrete(3))  # type: ignore[arg-type]

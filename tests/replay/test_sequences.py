"""Tests of renshu.replay.sequences: sequences against a plain-Python oracle (burn-in, episode
boundaries, ring wrap, stored states, n-step, priorities) and the save/load round trip."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

from renshu.errors import ConfigError
from renshu.replay import SequenceBuffer, sequence_priorities

# Frames: float32 (2,) = [frame id, env + 1]; ids start at 1, so a zero frame is window padding.
ID_SPACE = gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float32)
H = 3  # state size


def state_of(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The recurrent state an agent had before frame ``id``: h = id, c = -id (all units)."""
    h = np.repeat(np.asarray(ids, np.float32)[:, None], H, axis=1)
    return h, -h


@dataclass
class Rec:
    """One stamp of one env, as the oracle sees it."""

    frame: int
    step: bool  # a step (action taken); otherwise a final frame or the newest frame
    pad: bool = False  # an episode's final frame
    action: int = 0
    reward: float = 0.0
    term: bool = False
    last: bool = False  # the step ended the episode
    first: bool = False  # an episode's first frame


@dataclass
class Sim:
    buffer: SequenceBuffer
    rng: np.random.Generator
    p_end: float = 0.08
    recs: list[list[Rec]] = field(default_factory=list)

    def __post_init__(self) -> None:
        E = self.buffer.num_envs
        self.next_id = 1
        self.obs = self.ids(E)
        self.first = np.ones(E, bool)
        self.recs = [[] for _ in range(E)]

    def ids(self, k: int) -> np.ndarray:
        out = np.arange(self.next_id, self.next_id + k)
        self.next_id += k
        return out

    def step(self, mask: np.ndarray | None = None) -> None:
        buf, rng = self.buffer, self.rng
        E, envs = buf.num_envs, np.arange(buf.num_envs)
        actions = rng.integers(0, 4, E)
        rewards = rng.integers(-3, 4, E).astype(np.float32)
        nxt = self.ids(E)
        ends = rng.random(E) < self.p_end
        term = ends & (rng.random(E) < 0.5)
        trunc = ends & ~term
        frames = lambda ids: np.stack([ids, envs + 1], axis=1).astype(np.float32)  # noqa: E731
        buf.add(
            frames(self.obs), actions, rewards, frames(nxt), term, trunc,
            states=state_of(self.obs), next_states=state_of(nxt), mask=mask,
        )  # fmt: skip
        stored = np.ones(E, bool) if mask is None else mask
        for e in np.flatnonzero(stored):
            recs = self.recs[e]
            if recs and not recs[-1].step and not recs[-1].pad:
                recs.pop()  # the newest frame becomes this step
            done = bool(ends[e])
            recs.append(
                Rec(int(self.obs[e]), True, False, int(actions[e]), float(rewards[e]),
                    bool(term[e]), done, bool(self.first[e]))
            )  # fmt: skip
            recs.append(Rec(int(nxt[e]), False, pad=done))
            self.first[e] = done
        resets = self.ids(E)
        self.obs = np.where(stored & ends, resets, np.where(stored, nxt, self.obs))


def oracle(sim: Sim) -> dict[tuple[int, int], dict[str, object]]:
    """Every sampleable sequence, keyed by (env, id of its first frame), in plain Python."""
    buf = sim.buffer
    L, S, T, W, n, g = (buf.length, buf.seq_stride, buf.slots_per_env, buf.window, buf.n_step,
                        buf.gamma)  # fmt: skip
    out: dict[tuple[int, int], dict[str, object]] = {}
    for e, recs in enumerate(sim.recs):
        written = len(recs)
        for s in range(0, written, S):
            if s < written - T + W - 1 or s + L > written - 1:
                continue

            def window(p: int, recs: list[Rec] = recs) -> list[int]:
                ids, q = [], p
                for _ in range(W):
                    ids.append(recs[q].frame if q >= 0 else 0)
                    if q < 0 or recs[q].first or (q > 0 and recs[q - 1].pad):
                        q = -1
                    else:
                        q -= 1
                return ids[::-1]

            seq = recs[s : s + L + 1]
            rets, ks, dones = [], [], []
            for i in range(L):
                ret, k, done = 0.0, 0, False
                for j in range(n):
                    if i + j >= L or not seq[i + j].step:
                        break
                    ret += g**j * seq[i + j].reward
                    k, done = k + 1, seq[i + j].term
                    if seq[i + j].last:
                        break
                rets.append(ret)
                ks.append(k)
                dones.append(done)
            first = recs[s].first or (s > 0 and recs[s - 1].pad)
            out[(e, recs[s].frame)] = {
                "windows": [window(s + j) for j in range(L + 1)],
                "starts": [False] + [r.pad for r in seq[:L]],
                "actions": [r.action for r in seq[:L]],
                "step": [r.step for r in seq[:L]],
                "mask": [r.step and i >= buf.burn_in for i, r in enumerate(seq[:L])],
                "rewards": rets,
                "k": ks,
                "dones": dones,
                "h": 0.0 if first else float(recs[s].frame),
            }
    return out


def check_against_oracle(sim: Sim, rounds: int = 300) -> None:
    buf = sim.buffer
    expected = oracle(sim)
    assert buf.num_sampleable == len(expected)
    seen: set[tuple[int, int]] = set()
    for _ in range(rounds):
        if seen == set(expected):
            break
        b = buf.sample(16, beta=0.5)
        obs = b.obs.numpy()  # (L + 1, B, [W,] 2)
        ids = obs[..., 0].astype(np.int64) if buf.window > 1 else obs[..., None, 0].astype(int)
        env = (obs[0, :, -1, 1] if buf.window > 1 else obs[0, :, 1]).astype(np.int64) - 1
        for j in range(obs.shape[1]):
            key = (int(env[j]), int(ids[0, j, -1]))
            x = expected[key]
            assert ids[:, j].tolist() == x["windows"]
            assert b.starts[:, j].tolist() == x["starts"]
            assert b.mask[:, j].tolist() == [float(m) for m in x["mask"]]  # type: ignore[attr-defined]
            step = np.array(x["step"])
            assert b.actions[:, j].numpy()[step].tolist() == np.array(x["actions"])[step].tolist()
            k = np.array(x["k"])
            np.testing.assert_allclose(b.rewards[:, j].numpy()[step], np.array(x["rewards"])[step],
                                       rtol=1e-6, atol=1e-6)  # fmt: skip
            assert b.boot[:, j].numpy()[step].tolist() == (np.arange(buf.length) + k)[step].tolist()
            np.testing.assert_allclose(b.discounts[:, j].numpy()[step], buf.gamma ** k[step],
                                       rtol=1e-6)  # fmt: skip
            dones = np.array(x["dones"], float)[step]
            assert b.dones[:, j].numpy()[step].tolist() == dones.tolist()
            assert b.state[0][0, j].tolist() == [x["h"]] * H
            assert b.state[1][0, j].tolist() == [-x["h"] if x["h"] else 0.0] * H
            seen.add(key)
    assert seen == set(expected)


def make(capacity: int = 120, **kwargs: object) -> SequenceBuffer:
    kwargs.setdefault("gamma", 0.9)
    kwargs.setdefault("seed", 0)
    return SequenceBuffer(capacity, ID_SPACE, state_size=H, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        {"seq_len": 4, "burn_in": 0, "seq_stride": 2},
        {"seq_len": 3, "burn_in": 2, "seq_stride": 5, "n_step": 3},  # burn-in, gaps between starts
        {"seq_len": 5, "burn_in": 1, "seq_stride": 1, "n_step": 2, "window": 2},
        {"seq_len": 4, "burn_in": 2, "seq_stride": 3, "n_step": 3, "prioritized": True},
    ],
)
@pytest.mark.parametrize("num_envs", [1, 3])
def test_sequences_match_oracle_through_episode_ends_and_ring_wrap(
    options: dict[str, object], num_envs: int
) -> None:
    sim = Sim(make(num_envs=num_envs, **options), np.random.default_rng(1), p_end=0.15)
    for step in range(160):  # capacity 120 over the envs: the ring wraps several times
        mask = sim.rng.random(num_envs) < 0.8 if num_envs > 1 and step % 3 else None
        sim.step(mask)
        if step in (12, 50, 159):
            check_against_oracle(sim)


def test_sequence_state_is_zero_where_an_episode_starts_and_stored_elsewhere() -> None:
    buf = make(seq_len=3, seq_stride=3, n_step=1)
    sim = Sim(buf, np.random.default_rng(0), p_end=0.0)
    for _ in range(10):
        sim.step()
    b = buf.sample(64)
    # Sequences start at stamps 0 (the episode's first frame, id 1), 3 and 6 (ids 6 and 12: each
    # step draws a next id and a reset id).
    h = b.state[0][0, :, 0].numpy()
    first = b.obs[0, :, 0].numpy()
    pairs = set(zip(first.tolist(), h.tolist(), strict=True))
    assert pairs == {(1.0, 0.0), (6.0, 6.0), (12.0, 12.0)}


def test_end_episodes_makes_the_final_frame_a_truncation_inside_sequences() -> None:
    buf = make(seq_len=4, seq_stride=2)
    sim = Sim(buf, np.random.default_rng(2), p_end=0.0)
    for _ in range(5):
        sim.step()
    buf.end_episodes(np.array([[99.0, 1.0]], np.float32))
    sim.recs[0][-1] = Rec(99, False, pad=True)
    sim.obs, sim.first = np.array([sim.ids(1)[0]]), np.ones(1, bool)
    for _ in range(5):
        sim.step()
    check_against_oracle(sim)


def test_prioritized_sequences_follow_their_priorities() -> None:
    buf = make(seq_len=4, seq_stride=4, prioritized=True, alpha=1.0, eps=1e-9)
    sim = Sim(buf, np.random.default_rng(3), p_end=0.0)
    for _ in range(30):
        sim.step()
    b = buf.sample(4)
    buf.update_priorities(b.indices, np.zeros(4))  # those become (almost) never sampled
    hot = buf.sample(64)
    assert not set(hot.indices.tolist()) & set(b.indices.tolist())
    assert (hot.weights <= 1.0).all()


def test_sequence_priorities_mix_max_and_mean_over_trained_steps() -> None:
    td = torch.tensor([[1.0, 9.0], [-3.0, 1.0], [100.0, 1.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0]])
    p = sequence_priorities(td, mask, eta=0.9)
    assert p.tolist() == pytest.approx([0.9 * 3 + 0.1 * 2, 0.9 * 9 + 0.1 * 11 / 3])


@pytest.mark.parametrize("prioritized", [False, True])
def test_sequence_buffer_resumes_exactly_from_its_state(tmp_path: Path, prioritized: bool) -> None:
    a = make(num_envs=2, seq_len=4, burn_in=1, seq_stride=2, prioritized=prioritized, seed=5)
    sim = Sim(a, np.random.default_rng(4))
    for _ in range(70):
        sim.step()
    np.savez(tmp_path / "r.npz", **a.state_dict())
    b = make(num_envs=2, seq_len=4, burn_in=1, seq_stride=2, prioritized=prioritized, seed=99)
    b.load_state_dict(dict(np.load(tmp_path / "r.npz", allow_pickle=False)))
    for x, y in zip(a.sample(8), b.sample(8), strict=True):
        if isinstance(x, tuple):
            for u, v in zip(x, y, strict=True):
                assert torch.equal(u, v)
        elif isinstance(x, torch.Tensor):
            assert torch.equal(x, y)
        else:
            assert np.array_equal(x, y)


def test_sequence_buffer_refuses_what_it_cannot_hold() -> None:
    with pytest.raises(ConfigError, match=r"capacity \(buffer_size\) must give each env room"):
        make(capacity=10, seq_len=8, burn_in=4)
    buf = make(seq_len=4)
    with pytest.raises(ConfigError, match="no whole sequence can be sampled yet"):
        buf.sample(2)
    frame = np.zeros((1, 2), np.float32)
    with pytest.raises(ConfigError, match=r"states must be \(h, c\)"):
        buf.add(frame, [0], [0.0], frame, [False], [False], (np.zeros((1, 2)),) * 2,
                (np.zeros((1, H)),) * 2)  # fmt: skip

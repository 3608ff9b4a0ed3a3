"""What every built-in env shares: the batched twin matches the single env, Gymnasium's checks,
registration, NEXT_STEP autoreset, render modes."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.error import DependencyNotInstalled, ResetNeeded
from gymnasium.utils.env_checker import check_env
from gymnasium.utils.passive_env_checker import env_render_passive_checker
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

import renshu  # noqa: F401  (registers the envs)
from renshu.envs import catch, cave, shower
from renshu.errors import ConfigError

Policy = Callable[[np.ndarray, dict[str, Any]], np.ndarray]

# (id, constructor kwargs, single class, vector class, scripted policy)
CASES: dict[str, tuple[str, dict[str, Any], type, type, Policy]] = {
    "shower": ("renshu/Shower-v0", {}, shower.ShowerEnv, shower.ShowerVectorEnv,
               shower.scripted_policy),
    "catch": ("renshu/Catch-v0", {}, catch.CatchEnv, catch.CatchVectorEnv,
              catch.scripted_policy),
    "catch16": ("renshu/Catch-v0", {"size": 16}, catch.CatchEnv, catch.CatchVectorEnv,
                catch.scripted_policy),
    "cave": ("renshu/Cave-v0", {}, cave.CaveEnv, cave.CaveVectorEnv, cave.gap_centre_policy),
}  # fmt: skip
NAMES = list(CASES)
HAS_PYGAME = importlib.util.find_spec("pygame") is not None


def random_actions(rng: np.random.Generator, n_actions: int) -> Policy:
    """Uniform random actions for a batch of observations."""

    def policy(obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        return rng.integers(0, n_actions, size=obs.shape[0])

    return policy


# -- the twin ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_make_vec_vector_entry_point_returns_the_twin(name: str) -> None:
    env_id, kwargs, single_cls, vector_cls, _ = CASES[name]
    envs = gymnasium.make_vec(env_id, num_envs=5, vectorization_mode="vector_entry_point", **kwargs)
    assert type(envs) is vector_cls
    single = single_cls(**kwargs)
    assert envs.num_envs == 5
    assert envs.single_observation_space == single.observation_space
    assert envs.single_action_space == single.action_space
    assert envs.observation_space == batch_space(single.observation_space, 5)
    assert envs.action_space == batch_space(single.action_space, 5)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, _ = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    obs, reward, terminated, truncated, _ = envs.step(envs.action_space.sample())
    assert envs.observation_space.contains(obs)
    assert reward.shape == terminated.shape == truncated.shape == (5,)
    assert terminated.dtype == truncated.dtype == np.bool_
    envs.close()


def test_make_vec_passes_catch_size() -> None:
    envs = gymnasium.make_vec(
        "renshu/Catch-v0", num_envs=3, vectorization_mode="vector_entry_point", size=16
    )
    assert envs.single_observation_space.shape == (16, 16)
    assert envs.unwrapped.ball_interval == 8


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("controller", ["random", "scripted"])
def test_single_env_and_twin_of_one_give_identical_trajectories(name: str, controller: str) -> None:
    """Same seed, same actions: the same episodes, with the twin resetting itself."""
    _, kwargs, single_cls, vector_cls, scripted = CASES[name]
    env, twin = single_cls(**kwargs), vector_cls(num_envs=1, **kwargs)
    obs, info = env.reset(seed=11)
    vobs, vinfo = twin.reset(seed=11)
    rng = np.random.default_rng(99)
    n_actions = int(env.action_space.n)
    episodes = steps = 0
    while episodes < 6 and steps < 3000:
        if controller == "random":
            action = int(rng.integers(n_actions))
        else:
            action = int(scripted(vobs, vinfo)[0])
        obs, reward, terminated, truncated, info = env.step(action)
        vobs, vreward, vterminated, vtruncated, vinfo = twin.step(np.array([action]))
        steps += 1
        assert np.array_equal(obs[None], vobs)
        assert reward == vreward[0] and terminated == vterminated[0]
        assert truncated == vtruncated[0]
        assert set(info) == {key for key in vinfo if not key.startswith("_")}
        for key, value in info.items():
            assert value == vinfo[key][0]
        if terminated or truncated:
            episodes += 1
            obs, info = env.reset()
            ignored = n_actions - 1 - action  # the twin ignores this action
            vobs, vreward, vterminated, vtruncated, vinfo = twin.step(np.array([ignored]))
            assert np.array_equal(obs[None], vobs)
            assert vreward[0] == 0.0 and not vterminated[0] and not vtruncated[0]
            for key, value in info.items():
                assert value == vinfo[key][0]
    assert episodes >= 3


def test_cave_twin_of_one_names_the_same_crashes_as_the_single_env() -> None:
    """``info["crash"]`` ("wall" or "block") matches frame for frame, masked as SyncVectorEnv."""
    env, twin = cave.CaveEnv(), cave.CaveVectorEnv(num_envs=1)
    obs, info = env.reset(seed=4)
    twin.reset(seed=4)
    rng = np.random.default_rng(3)
    single: list[str] = []
    batched: list[str] = []
    while len(single) < 40:
        # half random, half the gap-centre controller: crashes into walls and into blocks
        random = rng.random() < 0.5
        action = int(rng.integers(2)) if random else int(cave.gap_centre_policy(obs, info))
        obs, _, terminated, _, info = env.step(action)
        _, _, vterminated, _, vinfo = twin.step(np.array([action]))
        assert ("crash" in info) == terminated == ("crash" in vinfo) == bool(vterminated[0])
        if terminated:
            assert vinfo["_crash"].tolist() == [True]
            single.append(info["crash"])
            batched.append(vinfo["crash"][0])
            obs, info = env.reset()
            _, _, _, _, vinfo = twin.step(np.array([0]))  # the twin's autoreset step
            assert "crash" not in vinfo
    assert single == batched
    assert set(single) == {"wall", "block"}


@pytest.mark.parametrize("name", NAMES)
def test_next_step_autoreset_ignores_the_action_of_ended_copies(name: str) -> None:
    _, kwargs, _, vector_cls, _ = CASES[name]
    kwargs = {**kwargs, "max_episode_steps": 30}
    envs_a, envs_b = vector_cls(num_envs=8, **kwargs), vector_cls(num_envs=8, **kwargs)
    envs_a.reset(seed=3)
    envs_b.reset(seed=3)
    rng = np.random.default_rng(5)
    n_actions = int(envs_a.single_action_space.n)
    ended = np.zeros(8, dtype=bool)
    seen_autoreset = 0
    for _ in range(70):
        actions = rng.integers(0, n_actions, 8)
        other = np.where(ended, (actions + 1) % n_actions, actions)
        obs_a, reward_a, term_a, trunc_a, _ = envs_a.step(actions)
        obs_b, reward_b, term_b, trunc_b, _ = envs_b.step(other)
        assert np.array_equal(obs_a, obs_b) and np.array_equal(reward_a, reward_b)
        assert np.array_equal(term_a, term_b) and np.array_equal(trunc_a, trunc_b)
        assert (reward_a[ended] == 0).all()
        assert not term_a[ended].any() and not trunc_a[ended].any()
        seen_autoreset += int(ended.sum())
        ended = term_a | trunc_a
    assert seen_autoreset >= 8


@pytest.mark.parametrize("name", NAMES)
def test_twin_reset_is_seeded(name: str) -> None:
    _, kwargs, _, vector_cls, _ = CASES[name]
    envs = vector_cls(num_envs=16, **kwargs)

    def run(seed: int) -> list[np.ndarray]:
        out = [envs.reset(seed=seed)[0]]
        out += [envs.step(np.ones(16, dtype=np.int64))[0] for _ in range(20)]
        return out

    first, again, other = run(1), run(1), run(2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def first_episode_scores(envs: gymnasium.vector.VectorEnv, policy: Policy, seed: int) -> np.ndarray:
    obs, info = envs.reset(seed=seed)
    n = envs.num_envs
    score, done = np.zeros(n), np.zeros(n, dtype=bool)
    while not done.all():
        obs, reward, terminated, truncated, info = envs.step(policy(obs, info))
        score += np.where(done, 0.0, reward)
        done |= terminated | truncated
    return score


def single_env_scores(env: gymnasium.Env, policy: Policy, episodes: int, seed: int) -> np.ndarray:
    scores = np.zeros(episodes)
    obs, info = env.reset(seed=seed)
    for episode in range(episodes):
        if episode:
            obs, info = env.reset()
        while True:
            obs, reward, terminated, truncated, info = env.step(policy(obs, info))
            scores[episode] += reward
            if terminated or truncated:
                break
    return scores


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("controller", ["random", "scripted"])
def test_twin_of_1024_and_single_env_score_alike(name: str, controller: str) -> None:
    """Means agree within 4 standard errors of their difference (plus rounding)."""
    _, kwargs, single_cls, vector_cls, scripted = CASES[name]
    n_actions = int(single_cls(**kwargs).action_space.n)
    episodes = 150 if controller == "random" else 60
    if controller == "random":
        twin_policy = random_actions(np.random.default_rng(7), n_actions)
        single_rng = np.random.default_rng(8)

        def single_policy(obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
            return single_rng.integers(n_actions)
    else:
        twin_policy = single_policy = scripted
    twin = first_episode_scores(vector_cls(num_envs=1024, **kwargs), twin_policy, seed=0)
    single = single_env_scores(single_cls(**kwargs), single_policy, episodes, seed=1)
    error = np.sqrt(twin.var() / twin.size + single.var(ddof=1) / single.size)
    assert abs(twin.mean() - single.mean()) <= 4 * error + 1e-9


# -- Gymnasium's checks ------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_gymnasium_check_env_passes_without_warnings(name: str) -> None:
    env_id, kwargs, _, _, _ = CASES[name]
    env = gymnasium.make(env_id, **kwargs).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Without pygame, render_mode="human" cannot open; the other modes are checked below.
        check_env(env, skip_render_check=not HAS_PYGAME)
        for mode in ("ansi", "rgb_array"):
            rendered = gymnasium.make(env_id, render_mode=mode, **kwargs).unwrapped
            rendered.reset(seed=0)
            env_render_passive_checker(rendered)


# -- rendering ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_render_modes_return_text_and_pictures(name: str) -> None:
    _, kwargs, single_cls, vector_cls, _ = CASES[name]
    text_env = single_cls(render_mode="ansi", **kwargs)
    text_env.reset(seed=0)
    text_env.step(1)
    text = text_env.render()
    assert isinstance(text, str) and "score" in text
    picture_env = single_cls(render_mode="rgb_array", **kwargs)
    picture_env.reset(seed=0)
    for _ in range(5):
        picture_env.step(1)
    frame = picture_env.render()
    assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
    assert frame.ndim == 3 and frame.shape[2] == 3 and min(frame.shape[:2]) >= 140
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 4  # colours, not a flat image
    envs = vector_cls(num_envs=6, render_mode="rgb_array", **kwargs)
    envs.reset(seed=0)
    frames = envs.render()
    assert isinstance(frames, tuple) and len(frames) == 4
    assert all(f.shape == frame.shape and f.dtype == np.uint8 for f in frames)
    texts = vector_cls(num_envs=2, render_mode="ansi", **kwargs)
    texts.reset(seed=0)
    assert [type(t) for t in texts.render()] == [str, str]
    assert vector_cls(num_envs=2, **kwargs).render() is None


@pytest.mark.skipif(HAS_PYGAME, reason="pygame is installed")
@pytest.mark.parametrize("name", NAMES)
def test_human_mode_without_pygame_says_how_to_install_it(name: str) -> None:
    _, kwargs, single_cls, _, _ = CASES[name]
    with pytest.raises(DependencyNotInstalled, match=r'pip install "renshu\[human\]"'):
        single_cls(render_mode="human", **kwargs)


# -- misuse ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_step_before_reset_raises(name: str) -> None:
    _, kwargs, single_cls, vector_cls, _ = CASES[name]
    with pytest.raises(ResetNeeded):
        single_cls(**kwargs).step(0)
    with pytest.raises(ResetNeeded):
        vector_cls(num_envs=2, **kwargs).step(np.zeros(2, dtype=np.int64))


@pytest.mark.parametrize("name", NAMES)
def test_twin_argument_messages(name: str) -> None:
    _, kwargs, _, vector_cls, _ = CASES[name]
    prefix = vector_cls.__name__.removesuffix("VectorEnv")
    with pytest.raises(ConfigError) as raised:
        vector_cls(num_envs=0, **kwargs)
    assert str(raised.value) == f"{prefix} num_envs must be an int >= 1, got 0"
    with pytest.raises(ConfigError) as raised:
        vector_cls(num_envs=2, render_mode="human", **kwargs)
    assert str(raised.value) == (
        f"{prefix} render_mode must be one of None, 'ansi', 'rgb_array', got 'human'"
    )


@pytest.mark.parametrize("name", NAMES)
def test_single_env_step_after_the_end_stays_ended_until_reset(name: str) -> None:
    """Shower and Cave behave as Catch always did: no new episode without reset()."""
    _, kwargs, single_cls, _, _ = CASES[name]
    env = single_cls(max_episode_steps=40, **kwargs)
    env.reset(seed=0)
    terminated = truncated = False
    while not (terminated or truncated):
        obs, _, terminated, truncated, info = env.step(1)
    state = env.np_random.bit_generator.state
    for action in (0, 1):
        again = env.step(action)
        assert np.array_equal(again[0], obs)
        assert again[1:] == (0.0, terminated, truncated, info)
    assert env.np_random.bit_generator.state == state  # nothing drawn past the end
    env.reset(seed=0)
    assert env.step(1)[2:4] == (False, False)

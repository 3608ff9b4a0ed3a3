"""The one ``test()`` loop: play episodes with an agent's greedy policy on one env.

Every algorithm's ``test()``, the Evaluate callback, a run's final test and its GIF go through
:func:`evaluate`. An episode ends when the env says so, or at a step cap (the env's own
``max_episode_steps``, else :data:`TEST_STEP_CAP`), so a greedy policy on an env that never ends
cannot play forever. A recurrent agent's state starts from zero with each episode and is carried
from step to step.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import gymnasium
import numpy as np
from gymnasium import spaces

from renshu.callbacks import Callback, CallbackList, History
from renshu.fastpath import limit_threads
from renshu.replay import FrameStack
from renshu.train.loop import segment_seed

if TYPE_CHECKING:
    from renshu.train.agent import Agent

TEST_STEP_CAP = 10_000
"""test() ends an episode after this many steps (as truncated) when the env's spec gives no
limit and no ``max_episode_steps=`` is passed, with a warning: a greedy policy on an env that
never ends would otherwise play forever. 10,000 is above every limit of the built-in and
classic-control envs (200-1,000 steps) and a few seconds of play for a small network."""


def evaluate(
    agent: Agent,
    test_env: gymnasium.Env[Any, Any],
    episodes: int,
    *,
    callbacks: Sequence[Callback] = (),
    render: bool = False,
    seed: int | None = None,
    epsilon: float = 0.0,
    max_episode_steps: int | None = None,
) -> History:
    """Play ``episodes`` episodes of ``test_env`` with ``agent``'s greedy actions (a random one
    with probability ``epsilon``); see :meth:`renshu.train.agent.Agent.test`."""
    cap = max_episode_steps if max_episode_steps is not None else step_limit(test_env)
    warn_at_cap = max_episode_steps is None
    history = History()
    cbs = CallbackList([history, *callbacks])
    cbs.set_agent(agent)
    rng = np.random.default_rng(seed)
    cfg = agent.config
    stack = FrameStack(1, cfg.window, agent._frame_space)
    encoder = agent._encoder
    encode = encoder.encode if encoder is not None else np.asarray
    action_space = agent.action_space
    discrete = isinstance(action_space, spaces.Discrete)
    cbs.on_train_begin({"episodes": episodes})
    with limit_threads(cfg.threads):
        step = 0
        first_seed = seed if seed is not None else segment_seed(cfg.seed, 10**9)
        for episode in range(episodes):
            obs, _ = test_env.reset(seed=first_seed if episode == 0 else None)
            window = stack.reset(encode(obs)[None])
            state = agent._initial_state(1) if getattr(agent, "recurrent", False) else None
            cbs.on_episode_begin(episode, {})
            total, length, done = 0.0, 0, False
            while not done:
                if state is not None:  # memory: the state goes on within the episode
                    greedy, state = agent._greedy_step(window, state, None)
                else:
                    greedy = agent._greedy(window)
                if rng.random() >= epsilon:
                    action: Any = int(greedy[0]) if discrete else agent._to_env(greedy)[0]
                else:
                    action = _random_action(action_space, rng)
                cbs.on_step_begin(step, {"episode": episode})
                obs, reward, terminated, truncated, info = test_env.step(action)
                done = bool(terminated or truncated)
                total, length = total + float(reward), length + 1
                if not done and length >= cap:  # the step bound: end it as truncated
                    truncated = done = True
                    if warn_at_cap:
                        warn_at_cap = False
                        warnings.warn(_capped_message(episode, cap), stacklevel=3)
                logs = {
                    "episode": episode,
                    "observation": obs,
                    "action": action,
                    "reward": float(reward),
                    "terminated": bool(terminated),
                    "truncated": bool(truncated),
                    "info": info,
                    "env": 0,
                }
                if render:
                    frame = test_env.render()
                    if frame is not None:
                        logs["frame"] = frame
                cbs.on_step_end(step, logs)
                window = stack.push(encode(obs)[None])
                step += 1
            cbs.on_episode_end(
                episode, {"episode_reward": total, "nb_episode_steps": length, "nb_steps": step}
            )
    cbs.on_train_end({"interrupted": None})
    return history


def step_limit(env: Any) -> int:
    """The env's own episode limit (its spec's max_episode_steps), else TEST_STEP_CAP."""
    limit = getattr(getattr(env, "spec", None), "max_episode_steps", None)
    if isinstance(limit, int | np.integer) and not isinstance(limit, bool) and limit >= 1:
        return int(limit)
    return TEST_STEP_CAP


def _random_action(space: gymnasium.Space[Any], rng: np.random.Generator) -> Any:
    """A uniformly random action drawn from ``rng`` (so a seeded test is reproducible)."""
    if isinstance(space, spaces.Discrete):
        return int(space.start + rng.integers(int(space.n)))
    space.seed(int(rng.integers(2**31)))
    return space.sample()


def _capped_message(episode: int, cap: int) -> str:
    return (
        f"Test episode {episode} did not end within {cap:,} steps, so test() ended it there "
        "(as truncated); the env returned neither terminated nor truncated. Give the env a "
        "time limit, `gymnasium.wrappers.TimeLimit(env, max_episode_steps=N)`, or set this cap: "
        "test(max_episode_steps=N) (`renshu test RUN --max-steps N`, nb_max_episode_steps= in "
        "the keras-rl layer)."
    )

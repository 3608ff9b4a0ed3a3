"""Env stepping shared by every algorithm: one :class:`EnvLoop` per training env.

The loop steps a Gymnasium vector env in either autoreset mode and hands the algorithm one
:class:`Step` per call: what was observed and done, the final observation of every episode that
ended (not the reset observation after it), which sub-envs' steps are transitions (in
``NEXT_STEP`` mode the step after an episode's end is a reset, not a transition), and the window
of frames to act on next. It keeps the episode counts, rewards and lengths, sends keras-rl's step
and episode logs to the callbacks, guards against NaN/inf from the env, checks the first steps
as ``renshu check`` does (and the types and shapes of every later one), and turns an exception
in the user's ``step()``/``reset()`` into an :class:`~renshu.errors.EnvError` that names their
code.

Training runs in segments: each ``fit()`` (and each restart after a checkpoint or a test on the
training env) resets the envs with :func:`segment_seed`, so a resumed run steps exactly as an
uninterrupted one.
"""

from __future__ import annotations

import functools
import math
import signal
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

from renshu.callbacks import CallbackList
from renshu.check import EnvCheckError, StepChecks, StepTypes, obs_problem, reward_problem
from renshu.errors import ConfigError, EnvError, RenshuError, user_frames
from renshu.fastpath import SingleEnv
from renshu.make import make, make_vec
from renshu.nets import RunningNorm
from renshu.replay import FrameStack

MAX_WINDOW = 1_000
"""Most frames per observation: the network input and every sampled batch grow with the window,
so a larger one only stalls (100,000 frames of Catch make a 400-million-parameter input layer)."""
NEVER_ENDING_STEPS = 100_000
"""fit() warns once when an episode has gone on for this many steps (per env) without ending."""
FIRST_STEPS_CHECKED = 1_000
"""fit() checks what reset()/step() return for this many steps per env after an env is attached
(as ``renshu check`` does), then only the types and shapes (cheap enough for every step)."""


@dataclass
class Counters:
    """What training has done so far (saved in checkpoints, so training resumes exactly)."""

    num_steps: int = 0
    """Env steps taken in training (transitions, over all envs)."""
    num_episodes: int = 0
    """Episodes started in training."""
    num_updates: int = 0
    """Gradient steps taken."""
    iteration: int = 0
    """Loop iterations (vector env steps) taken."""


@dataclass(slots=True)
class Step:
    """One vector-env step, as the algorithm stores it."""

    obs: np.ndarray
    """The frames acted on (one per env; the newest frame of each window)."""
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    """The frame after the step; where an episode ended, its final frame (not the reset one)."""
    terminated: np.ndarray
    truncated: np.ndarray
    valid: np.ndarray | None
    """Which envs' steps are transitions (False: a ``NEXT_STEP`` reset step); None: all are."""
    window: np.ndarray
    """What the agent acts on next: each env's last ``window`` frames (restarted at a reset)."""


def segment_seed(seed: int | None, step: int) -> int | None:
    """The env seed for a training segment starting at ``step`` (``seed`` itself at step 0)."""
    if seed is None or step == 0:
        return seed
    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0] & 0x7FFFFFFF)


def env_name(env: Any) -> str:
    """A human label of an env argument: the string given, a registered id, or a class name."""
    if isinstance(env, str):
        return env
    spec_id = getattr(getattr(env, "spec", None), "id", None)
    if spec_id:
        return str(spec_id)
    if isinstance(env, type):
        return env.__name__
    inner = getattr(env, "envs", None)  # a SyncVectorEnv: name its first copy
    if isinstance(inner, list | tuple) and inner:
        return env_name(inner[0])
    return type(getattr(env, "unwrapped", env)).__name__


def env_class_name(env: Any) -> str:
    """The class name of the user's env inside wrappers and the legacy adapter."""
    inner = getattr(env, "unwrapped", env)
    inner = getattr(inner, "legacy_env", inner)
    return type(inner).__name__


def vectorize(
    env: Any, num_envs: int, check_spaces: Callable[[Any, Any], object]
) -> tuple[VectorEnv, gymnasium.Env[Any, Any] | None]:
    """``env`` as a vector env of ``num_envs`` copies (a vector env given is kept as it is), and
    the single env instance when there is one (testing then plays on it). ``check_spaces`` sees
    a single env's spaces before it is wrapped."""
    if isinstance(env, VectorEnv):
        if num_envs not in (1, env.num_envs):
            raise ConfigError(
                f"num_envs={num_envs} but the vector env given has {env.num_envs} envs; "
                "leave num_envs out or make them agree."
            )
        return env, None
    if num_envs > 1:
        if not isinstance(env, str) and not callable(env):
            raise ConfigError(
                f"num_envs={num_envs} needs an env that can be built several times: a "
                "name, a Gymnasium id, 'file.py:Class' or 'module:Class', not an instance."
            )
        return make_vec(env, num_envs), None
    single = make(env)
    check_spaces(single.observation_space, single.action_space)  # before batching
    # SAME_STEP: the final observation arrives with the step that ends an episode.
    return SingleEnv(single), single


class EnvLoop:
    """Steps one training vector env for an agent and keeps its episodes."""

    def __init__(
        self,
        env: VectorEnv,
        *,
        counters: Counters,
        seed: int | None,
        window: int,
        frame_space: spaces.Box,
        observation_space: gymnasium.Space[Any],
        obs_norm: RunningNorm | None,
        on_cut: Callable[[np.ndarray, np.ndarray], None],
        label: str,
    ) -> None:
        self.env, self.counters, self.seed = env, counters, seed
        self.num_envs = env.num_envs
        self.window, self.frame_space = window, frame_space
        self.observation_space, self.obs_norm = observation_space, obs_norm
        self.on_cut = on_cut
        """Called with the current frames and open-episode mask when episodes are cut."""
        self.label = label
        """The user's env, for messages (class and how it was named)."""
        self.callbacks = CallbackList()
        self.frames: np.ndarray | None = None  # None: no episode open in the env
        self.valid = np.ones(self.num_envs, dtype=bool)  # False: this env's next step is a reset
        self.same_step = env.metadata.get("autoreset_mode") == AutoresetMode.SAME_STEP
        self.float_obs = np.issubdtype(frame_space.dtype, np.floating)
        self.first_steps_checked = False
        self.warned_never_ending = False
        self.frame_stack = FrameStack(self.num_envs, window, frame_space)

    # ---- segments ------------------------------------------------------------------------
    def begin_segment(self) -> np.ndarray:
        """Close open episodes (as time-limit cuts), reset the envs with the segment seed and
        return the first windows."""
        self.close_episodes()
        n, counters = self.num_envs, self.counters
        try:
            obs, _ = self.env.reset(seed=segment_seed(self.seed, counters.num_steps))
        except RenshuError:
            raise
        except Exception as error:  # the user's reset() raised: say where, keep it
            raise self.env_failed(error, "reset") from error
        self.frame_stack = FrameStack(n, self.window, self.frame_space)
        self.frames = obs
        if self.obs_norm is not None:
            self.obs_norm.update(obs)
        self.valid = np.ones(n, dtype=bool)
        self.episode_reward = np.zeros(n)
        self.episode_length = np.zeros(n, dtype=np.int64)
        self.episode_id = np.arange(counters.num_episodes, counters.num_episodes + n)
        counters.num_episodes += n
        for e in range(n):
            self.callbacks.on_episode_begin(int(self.episode_id[e]), {"env": e})
        return self.frame_stack.reset(obs)

    def close_episodes(self) -> None:
        """Mark every open episode as cut here (its current frame is its last)."""
        if self.frames is not None:
            self.on_cut(self.frames, self.valid)
            self.frames = None

    def episodes_in_progress(self) -> list[int]:
        """The steps taken so far by each open episode (none between segments)."""
        if self.frames is None:
            return []
        return [int(n) for n in self.episode_length[self.valid] if n > 0]

    # ---- one step ------------------------------------------------------------------------
    def step(self, actions: np.ndarray) -> Step:
        """Step every env with ``actions``; count, log and guard; return the :class:`Step`."""
        cbs, counters, valid = self.callbacks, self.counters, self.valid
        if cbs.wants_steps:
            for e in np.flatnonzero(valid):
                cbs.on_step_begin(
                    counters.num_steps, {"episode": int(self.episode_id[e]), "env": int(e)}
                )
        try:
            next_obs, rewards, terminated, truncated, info = self.env.step(actions)
        except RenshuError:
            raise
        except Exception as error:  # the user's step() raised: say where, keep it
            raise self.env_failed(error, "step") from error
        # NaN/inf guard, before anything is stored (one reduction each: ~1 us a step)
        if not (
            math.isfinite(rewards[0] if self.num_envs == 1 else rewards.sum())
            and (not self.float_obs or math.isfinite(next_obs.sum()))
        ):
            self._refuse_not_finite(rewards, next_obs if self.float_obs else None)
        done = terminated | truncated
        any_done = np.count_nonzero(done) > 0  # (count_nonzero: the cheapest reduction)
        final_obs = next_obs
        if self.same_step and any_done:  # the final observation is not the reset one
            final_obs = next_obs.copy()
            for e in np.flatnonzero(done):
                final_obs[e] = info["final_obs"][e]
        n_valid = int(np.count_nonzero(valid))
        if cbs.wants_steps:
            self._step_end_logs(valid, final_obs, actions, rewards, terminated, truncated, info)
        self._track_episodes(valid, n_valid, rewards, done if any_done else None)
        frames = self.frames
        assert frames is not None
        counters.num_steps += n_valid
        counters.iteration += 1
        self.frames = next_obs
        if self.obs_norm is not None:  # running statistics of what the agent sees
            self.obs_norm.update(next_obs)
        if self.same_step:  # every env goes on; the ones that ended were reset
            restarted = done if any_done else None
        else:  # NEXT_STEP: an env that ended resets on its next step (not a transition)
            restarted = ~valid if n_valid < self.num_envs else None
            self.valid = ~(done & valid)
        if self.window == 1:  # the window is the frame itself
            window = next_obs
        else:
            window = self.frame_stack.push(next_obs)
            if restarted is not None:
                window = self.frame_stack.reset(next_obs, mask=restarted)
        return Step(
            frames,
            actions,
            rewards,
            final_obs,
            terminated,
            truncated,
            None if n_valid == self.num_envs else valid,
            window,
        )

    def _track_episodes(
        self, valid: np.ndarray, n_valid: int, rewards: np.ndarray, done: np.ndarray | None
    ) -> None:
        if n_valid == len(valid):
            self.episode_reward += rewards
            self.episode_length += 1
        else:
            self.episode_reward[valid] += rewards[valid]
            self.episode_length[valid] += 1
        if done is None:  # no episode ended
            return
        cbs, counters = self.callbacks, self.counters
        for e in np.flatnonzero(done & valid):
            logs = {
                "episode_reward": float(self.episode_reward[e]),
                "nb_episode_steps": int(self.episode_length[e]),
                "nb_steps": counters.num_steps + int(valid[: e + 1].sum()),
                "env": int(e),
            }
            cbs.on_episode_end(int(self.episode_id[e]), logs)
            self.episode_reward[e], self.episode_length[e] = 0.0, 0
            self.episode_id[e] = counters.num_episodes
            counters.num_episodes += 1
            cbs.on_episode_begin(int(self.episode_id[e]), {"env": int(e)})

    def _step_end_logs(
        self,
        valid: np.ndarray,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        info: dict[str, Any],
    ) -> None:
        discrete = actions.ndim == 1 and actions.dtype.kind in "iu"
        for i, e in enumerate(np.flatnonzero(valid)):
            logs = {
                "episode": int(self.episode_id[e]),
                "observation": obs[e],
                "action": int(actions[e]) if discrete else actions[e],
                "reward": float(rewards[e]),
                "terminated": bool(terminated[e]),
                "truncated": bool(truncated[e]),
                "env": int(e),
                "info": env_info(info, int(e)),
            }
            self.callbacks.on_step_end(self.counters.num_steps + i, logs)

    # ---- the env's faults ----------------------------------------------------------------
    def env_failed(self, error: Exception, method: str) -> EnvError:
        """renshu's error for an exception the user's step()/reset() raised."""
        what = "stepping" if method == "step" else "resetting"
        envs = "env 0" if self.num_envs == 1 else f"the {self.num_envs} envs"
        doing = f"{what} {envs} at training step {self.counters.num_steps:,}"
        frames = user_frames(error)
        lines = [
            f"{self.label}: {method}() raised {type(error).__name__}: {error}",
            f"(renshu was {doing}).",
        ]
        if frames:
            lines.append("In your code (most recent call last):")
            lines.extend(line.rstrip("\n") for line in traceback.format_list(list(frames)))
        lines.append(
            "Fix the error there; `renshu check` runs reset() and step() without training. "
            "The full traceback is this error's __cause__."
        )
        failure = EnvError("\n".join(lines))
        failure.doing, failure.user_frames = doing, frames
        return failure

    def _refuse_not_finite(self, rewards: np.ndarray, obs: np.ndarray | None) -> None:
        """Raise EnvCheckError naming the NaN/inf reward or observation (no-op if none is)."""
        for e in range(self.num_envs):
            where = f"training step {self.counters.num_steps:,} (env {e})"
            problem = reward_problem(float(rewards[e]), where)
            if problem is None and obs is not None and not np.all(np.isfinite(obs[e])):
                problem = obs_problem(obs[e], self.observation_space, where)
            if problem is not None:
                raise EnvCheckError([problem], self.label)

    def check_first_steps(self) -> None:
        """Check the first FIRST_STEPS_CHECKED reset()/step() results of each env as
        ``renshu check`` does (wrapping it in StepChecks), then every later one cheaply (types
        and shapes: StepTypes replaces StepChecks); once per env."""
        if self.first_steps_checked:
            return
        self.first_steps_checked = True
        env, label, counters = self.env, self.label, self.counters

        def checked(inner: Any, e: int, put: Callable[[Any], None]) -> StepChecks:
            def where() -> str:
                return f"training step {counters.num_steps:,} (env {e})"

            return StepChecks(
                inner,
                steps=FIRST_STEPS_CHECKED,
                label=label,
                where=where,
                done=lambda: put(StepTypes(inner, label=label, where=where)),
            )

        if isinstance(env, SingleEnv) and isinstance(env.env, gymnasium.Env):
            inner = env.env
            env.env = checked(inner, 0, lambda x: setattr(env, "env", x))
        elif isinstance(env, SyncVectorEnv):
            envs = env.envs
            for e, inner in enumerate(list(envs)):
                envs[e] = checked(inner, e, functools.partial(envs.__setitem__, e))

    def warn_if_never_ending(self) -> None:
        """Warn once when an episode has run NEVER_ENDING_STEPS steps without ending."""
        if self.warned_never_ending or self.frames is None:
            return
        e = int(np.argmax(self.episode_length))
        longest = int(self.episode_length[e])
        if longest < NEVER_ENDING_STEPS:
            return
        self.warned_never_ending = True
        warnings.warn(
            f"The episode of env {e} ({self.label}) has not ended in {longest:,} "
            "training steps: the env never returns terminated or truncated. Episodes that never "
            "end log no episode reward, and test() cuts them at its step cap. Add a time limit: "
            "`gymnasium.wrappers.TimeLimit(env, max_episode_steps=...)` (or return "
            "truncated=True after a step limit in step()).",
            stacklevel=3,
        )


def env_info(info: dict[str, Any], e: int) -> dict[str, Any]:
    """Sub-env ``e``'s entries of a vector env's info dict (Gymnasium's ``_key`` masks)."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key.startswith("_") or key in ("final_obs", "final_info"):
            continue
        mask = info.get(f"_{key}")
        if mask is not None and not mask[e]:
            continue
        out[key] = env_info(value, e) if isinstance(value, dict) else value[e]
    return out


class Interrupt:
    """Truthy once a signal asked the loop to stop; ``name`` is the signal's name."""

    name: str | None = None

    def __bool__(self) -> bool:
        return self.name is not None


@contextmanager
def signals() -> Iterator[Interrupt]:
    """Turn SIGINT/SIGTERM into a flag the loop checks; a second SIGINT aborts at once."""
    flag = Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: Any) -> None:
        if flag and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.name = signal.Signals(signum).name

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)

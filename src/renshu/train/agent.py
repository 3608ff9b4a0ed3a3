"""What every agent shares: building on an env, the fit loop, test, act, save and load.

An algorithm subclasses :class:`Agent` once, builds its networks, optimizer and storage in its
``__init__`` after ``super().__init__``, and fills in the hooks:

==========================  ==============================================================
``_explore(window)``        actions to take in training for a batch of windows
``_learn(step)``            store the :class:`~renshu.train.loop.Step`; update when it is time
``_greedy(window)``         greedy actions for a batch (``act``, ``test``)
``_initial_state(n)``       a recurrent agent's state for ``n`` episodes starting (zeros)
``_greedy_step(window,``    a recurrent agent's greedy actions and next state (``act``,
``state, starts)``          ``test``); ``starts`` marks where an episode starts (state reset)
``_metrics()``              the algorithm's logged metrics since the last call
``_networks()``             ``{prefix: module}`` saved in ``weights.safetensors``
``_extra_state()``          its own counters for ``state.json`` (``_load_extra_state`` checks
                            and restores them)
``_replay_state()``         arrays saved as ``replay.npz`` (``_load_replay`` restores them)
``_on_cut(frames, mask)``   open episodes end here (a checkpoint, a test on the training env)
==========================  ==============================================================

Everything else (the env loop, signals, logging cadence, callbacks, evaluation, checkpoints)
is the same for every algorithm and lives in :mod:`renshu.train`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import VectorEnv

from renshu import checkpoint
from renshu.callbacks import Callback, CallbackList, History, ProgressBar
from renshu.config import build, check, count, whole_number
from renshu.errors import ConfigError, DivergenceError
from renshu.fastpath import limit_threads
from renshu.inputs import EncodedVectorEnv, ObsEncoder, needs_encoder
from renshu.make import make
from renshu.nets import RunningNorm, summary
from renshu.train import state
from renshu.train.divergence import (
    divergence_error,
    losses_not_finite,
    not_finite_tensor,
)
from renshu.train.evaluate import evaluate
from renshu.train.loop import Counters, EnvLoop, Step, env_class_name, env_name, signals, vectorize
from renshu.train.memory import check_env_copies


class Agent:
    """The shared part of every agent; see the module docstring for the hooks."""

    algo: ClassVar[str]
    """The algorithm's name in :data:`renshu.agents.ALGORITHMS`."""
    config_class: ClassVar[type]
    """Its dataclass config."""
    recurrent: ClassVar[bool] = False
    """Whether it acts with memory: a state carried from step to step (:meth:`act` then takes
    and returns it; ``test`` carries it through each episode)."""
    former_defaults: ClassVar[dict[str, Any]] = {}
    """Options added after checkpoints of this algorithm were first written, with the value that
    keeps an older checkpoint (one that does not record them) training as it was saved."""

    def __init__(self, env: Any, config: Any, options: dict[str, Any]) -> None:
        saved_spaces = options.pop("_spaces", (None, None))
        self.config = cfg = build(self.config_class, options, base=config)
        if cfg.seed is None:
            cfg.seed = int(np.random.SeedSequence().generate_state(1)[0] & 0x7FFFFFFF)
        self.env_spec: str | None = env if isinstance(env, str) else None
        self.env_name: str | None = env_name(env) if env is not None else None
        """A human label of the training env (its name, id or class), saved with the agent."""
        self._env_ref: str | None = None  # a saved file/module env not built on load
        self._env_class: type | None = env if isinstance(env, type) else None  # test builds one
        self.env: VectorEnv | None = None
        self._train_env_instance: gymnasium.Env[Any, Any] | None = None
        if env is not None:
            check_env_copies(cfg.num_envs)  # before building any of them
            self.env, self._train_env_instance = vectorize(env, cfg.num_envs, self._check_spaces)
            cfg.num_envs = self.env.num_envs
            obs_space = self.env.single_observation_space
            act_space = self.env.single_action_space
        else:  # rebuilt from a checkpoint without an env: act() works, fit() needs set_env()
            obs_space, act_space = saved_spaces
        self.observation_space, self.action_space = self._check_spaces(obs_space, act_space)
        # Discrete, Dict and Tuple observations travel as one flat vector (renshu.inputs).
        self._encoder = ObsEncoder(obs_space) if needs_encoder(obs_space) else None
        self._frame_space: spaces.Box = (
            self._encoder.space if self._encoder else self.observation_space
        )
        if self._encoder is not None and self.env is not None:
            self.env = EncodedVectorEnv(self.env, self._encoder)
        frame_shape = self._frame_space.shape
        self.obs_shape = (cfg.window, *frame_shape) if cfg.window > 1 else frame_shape
        self.device = torch.device(
            ("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device
        )
        # Seeds: [0] network initialization, [1] the agent's RNG, [2] the algorithm's storage.
        self._seeds = np.random.SeedSequence(cfg.seed).spawn(3)
        self.rng = np.random.default_rng(self._seeds[1])
        self.counters = Counters()
        self.stop_training = False
        self._obs_norm: RunningNorm | None = None  # set by the algorithm (its online network's)
        self._loop: EnvLoop | None = None  # built by fit() on the env attached
        self._end_step = 0  # the step the running fit() trains to: where schedules end

    # ---- hooks an algorithm fills in ---------------------------------------------------------
    optimizer: torch.optim.Optimizer

    @staticmethod
    def space_problems(observation_space: Any, action_space: Any) -> list[tuple[str, str, str]]:
        """Why the algorithm cannot train on these spaces: ``(code, what, fix)`` each."""
        raise NotImplementedError

    def _explore(self, window: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _learn(self, step: Step) -> None:
        raise NotImplementedError

    def _greedy(self, window: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _initial_state(self, n: int) -> Any:
        """A recurrent agent's state for ``n`` envs whose episodes start (zeros)."""
        raise NotImplementedError

    def _greedy_step(
        self, window: np.ndarray, state: Any, starts: np.ndarray | None
    ) -> tuple[np.ndarray, Any]:
        """A recurrent agent's greedy actions for a batch and the state after them; ``starts``
        (``(B,)`` bool, or None for none) marks the envs whose episode starts here."""
        raise NotImplementedError

    def _metrics(self) -> dict[str, float]:
        return {}

    def _networks(self) -> dict[str, torch.nn.Module]:
        raise NotImplementedError

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, saved: dict[str, Any], ckpt: checkpoint.Checkpoint) -> None:
        """Check and restore what :meth:`_extra_state` saved."""

    def _replay_state(self) -> dict[str, np.ndarray] | None:
        return None

    def _load_replay(self, arrays: dict[str, np.ndarray], file: Path) -> None:
        """Check and restore what :meth:`_replay_state` saved."""

    def _on_cut(self, frames: np.ndarray, mask: np.ndarray) -> None:
        """Open episodes (``mask``) end at ``frames`` without a terminal step."""

    def _begin_fit(self, end_step: int) -> None:
        """Called by fit() before the first step; training ends at ``end_step``."""

    def _progress(self) -> float:
        """How far training is, in [0, 1]: the step count over the step the running ``fit()``
        trains to (``num_steps + steps`` when it was called; a run's total). Every schedule
        that follows the length of training reads it, so each ``fit()`` call, or a resume with
        a new total, re-defines where they end: from then on a schedule has the value a training
        of that length has at each step."""
        return min(self.num_steps / max(self._end_step, 1), 1.0)

    def _to_env(self, actions: np.ndarray) -> np.ndarray:
        """Actions as the env takes them (e.g. clipped to a Box's bounds)."""
        return actions

    # ---- counters ----------------------------------------------------------------------------
    @property
    def num_steps(self) -> int:
        """Env steps taken in training (over all envs)."""
        return self.counters.num_steps

    @num_steps.setter
    def num_steps(self, value: int) -> None:
        self.counters.num_steps = value

    @property
    def num_episodes(self) -> int:
        """Episodes started in training."""
        return self.counters.num_episodes

    @num_episodes.setter
    def num_episodes(self, value: int) -> None:
        self.counters.num_episodes = value

    @property
    def num_updates(self) -> int:
        """Gradient steps taken."""
        return self.counters.num_updates

    @num_updates.setter
    def num_updates(self, value: int) -> None:
        self.counters.num_updates = value

    # ---- setup -------------------------------------------------------------------------------
    def _check_spaces(self, obs_space: Any, act_space: Any) -> tuple[Any, Any]:
        from renshu.agents import space_verdict  # the registry (agents/ imports this module)

        problems = space_verdict(type(self), obs_space, act_space)
        if problems:
            raise ConfigError(" ".join(f"{message} {fix}" for _, message, fix in problems))
        window = self.config.window
        if not isinstance(obs_space, spaces.Box) and window > 1:
            raise ConfigError(
                f"window={window} stacks frames of a Box observation; the observation space is "
                f"{obs_space}. Leave window at 1, or put the history into the observation (e.g. "
                "a Box key holding the last frames)."
            )
        return obs_space, act_space

    def _env_loop(self) -> EnvLoop:
        """The loop over the attached env (built once per env)."""
        assert self.env is not None
        if self._loop is None:
            self._loop = EnvLoop(
                self.env,
                counters=self.counters,
                seed=self.config.seed,
                window=self.config.window,
                frame_space=self._frame_space,
                observation_space=self.observation_space,
                obs_norm=self._obs_norm,
                on_cut=self._on_cut,
                label=self._env_label(),
            )
        return self._loop

    def _env_label(self) -> str:
        """The user's env class (and how it was named), for messages."""
        instance: Any = self._train_env_instance
        envs = getattr(getattr(self.env, "env", self.env), "envs", None)
        if instance is None and isinstance(envs, list) and envs:
            instance = envs[0]
        name = env_class_name(instance) if instance is not None else type(self.env).__name__
        return f"{name} ({self.env_spec!r})" if self.env_spec and self.env_spec != name else name

    def summary(self) -> str:
        """Print and return the main network's layer table (output shapes, parameter counts)."""
        network = next(iter(self._networks().values()))
        dtype = torch.uint8 if self._frame_space.dtype == np.uint8 else torch.float32
        text = summary(network, (1, *self.obs_shape), dtype)
        print(text)
        return text

    # ---- acting ------------------------------------------------------------------------------
    def act(self, obs: Any, state: Any = None, episode_start: Any = None) -> Any:
        """Greedy action for one observation or a batch (an array of actions).

        With ``window > 1`` an observation is the last ``window`` frames stacked on axis 0. A
        Discrete, Dict or Tuple observation is given as the env returns it (a batch: a list).

        A recurrent agent (``agent.recurrent``, e.g. DRQN) remembers: it returns
        ``(action, state)``, and you pass that state back with the next observation, as
        Stable-Baselines3's ``predict(obs, state, episode_start)``. ``state=None`` is the state of
        an episode's start; ``episode_start`` (a bool, or one per observation of a batch) says
        where a new episode starts, so that its state is reset there::

            state, start = None, True
            while not done:
                action, state = agent.act(obs, state, episode_start=start)
                obs, reward, terminated, truncated, info = env.step(action)
                done, start = terminated or truncated, False
        """
        if not self.recurrent:
            if state is not None or episode_start is not None:
                raise ConfigError(
                    f"{type(self).__name__} acts without memory: act(obs) takes no state or "
                    "episode_start (a recurrent agent, e.g. DRQN, does). Call act(obs)."
                )
            batch, single = self._obs_batch(obs)
            return self._one(self._greedy(batch)) if single else self._to_env(self._greedy(batch))
        batch, single = self._obs_batch(obs)
        n = len(batch)
        starts = None
        if episode_start is not None:
            starts = np.asarray(episode_start, dtype=bool).reshape(-1)
            if starts.size == 1 and n > 1:
                starts = np.repeat(starts, n)
            if starts.size != n:
                raise ConfigError(
                    f"episode_start must be a bool or one bool per observation ({n}), got "
                    f"{starts.size} values."
                )
        actions, state = self._greedy_step(
            batch, self._initial_state(n) if state is None else state, starts
        )
        return (self._one(actions) if single else self._to_env(actions)), state

    def _obs_batch(self, obs: Any) -> tuple[np.ndarray, bool]:
        """``obs`` as a batch the networks take, and whether it was one observation."""
        if self._encoder is not None:
            if isinstance(obs, list):
                return np.stack([self._encoder.encode(o) for o in obs]), False
            return self._encoder.encode(obs)[None], True
        dtype = self.observation_space.dtype
        expected = (
            f"act() expects an observation: a {dtype} array of shape {tuple(self.obs_shape)} "
            f"(or a batch of shape (B, {', '.join(map(str, self.obs_shape))}))"
        )
        given = f"{type(obs).__name__} {_short_repr(obs)}"
        if obs is None or isinstance(obs, str | bytes | dict):
            raise ConfigError(f"{expected}; got {given}.")
        try:
            arr = np.asarray(obs, dtype=dtype)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{expected}; got {given}, which is not numbers ({error}).") from None
        single = arr.shape == tuple(self.obs_shape)
        if not single and (arr.ndim == 0 or arr.shape[1:] != tuple(self.obs_shape)):
            raise ConfigError(
                f"{expected}; got shape {arr.shape}."
                + (
                    " With window > 1, pass the last frames stacked on axis 0."
                    if self.config.window > 1
                    else ""
                )
            )
        return (arr[None], True) if single else (arr, False)

    def _episode_starts(self, step: Step) -> np.ndarray:
        """Which envs start an episode at the window the loop hands back with ``step`` (where a
        recurrent agent resets its state): in ``SAME_STEP`` autoreset the envs whose episode
        ended at this step; in ``NEXT_STEP`` the envs this step reset (not a transition)."""
        if self._loop is not None and self._loop.same_step:
            return np.asarray(step.terminated | step.truncated, dtype=bool)
        if step.valid is None:
            return np.zeros(len(step.rewards), dtype=bool)
        return ~step.valid

    def _one(self, actions: np.ndarray) -> Any:
        """The first action of a batch as the env takes it (a Discrete one as an int)."""
        if isinstance(self.action_space, spaces.Discrete):
            return int(actions[0])
        return self._to_env(actions)[0]

    # ---- training ----------------------------------------------------------------------------
    def fit(
        self,
        steps: int,
        *,
        callbacks: Sequence[Callback] = (),
        progress: bool | None = None,
        log_every: int = 1_000,
    ) -> History:
        """Train for ``steps`` env steps (over all envs); returns the History of episodes.

        Schedules that follow the length of training (PPO's and A2C's linear learning rate and
        clip range, prioritized replay's beta without ``per_beta_steps``) end at the step this
        call trains to, ``num_steps + steps``: a second call re-defines that end, and from then
        on they take the values a training of the new length has at each step (as
        Stable-Baselines3's ``learn(reset_num_timesteps=False)``).

        Ctrl+C or SIGTERM finishes the current step and stops cleanly (callbacks run their
        ``on_train_end``; ``history.interrupted`` names the signal).

        Raises:
            DivergenceError: a loss, the weights or the actions became NaN or inf (see
                :mod:`renshu.train.divergence`); nothing diverged reaches the env or a save.
            EnvError: the env's ``step()``/``reset()`` raised or returned what it must not.
        """
        steps = count("steps", steps)  # 1e5 too
        if self.env is None:
            raise self._missing_env("fit")
        loop, counters = self._env_loop(), self.counters
        history = History()
        wanted = progress if progress is not None else ProgressBar.wanted()
        cbs = loop.callbacks = CallbackList(
            [history, *callbacks, *([ProgressBar(steps)] if wanted else [])]
        )
        cbs.set_agent(self)
        self.stop_training = False
        end_step = self._end_step = counters.num_steps + steps  # where schedules end
        self._begin_fit(end_step)
        log_at = counters.num_steps + log_every
        started, steps_at_start = time.perf_counter(), counters.num_steps
        look_at = counters.num_steps + 1_000  # the next look for episodes that never end

        cbs.on_train_begin({"steps": steps})
        with signals() as interrupted, limit_threads(self.config.threads):
            loop.check_first_steps()
            window = loop.begin_segment()
            while counters.num_steps < end_step and not self.stop_training and not interrupted:
                if loop.frames is None:  # an eval on the training env or a checkpoint cut
                    window = loop.begin_segment()
                actions = self._explore(window)  # never NaN: the algorithm checks (divergence)
                step = loop.step(actions)  # step, count, log
                self._learn(step)  # store, update (the algorithm's part)
                window = step.window
                cbs.on_tick(counters.num_steps)
                if counters.num_steps >= look_at:
                    look_at += 1_000
                    loop.warn_if_never_ending()
                if counters.num_steps >= log_at:
                    log_at += log_every
                    elapsed = time.perf_counter() - started
                    self._log(history, (counters.num_steps - steps_at_start) / max(elapsed, 1e-9))
        cbs.on_train_end({"interrupted": interrupted.name if interrupted else None})
        loop.callbacks = CallbackList()
        return history

    def _log(self, history: History, sps: float) -> None:
        metrics = {"charts/SPS": sps, **self._metrics()}
        bad = losses_not_finite(metrics)  # the torch paths' losses, checked once per log
        if bad:
            raise self._diverged(f"the logged {' and '.join(bad)}")
        recent = history.history.get("episode_reward", [])[-20:]
        if recent:
            metrics["charts/episode_reward"] = float(np.mean(recent))
        self.log_metrics(self.num_steps, metrics)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        """Send metrics to the callbacks of the running ``fit`` (e.g. TensorBoard, CSV)."""
        if self._loop is not None:
            self._loop.callbacks.on_log(step, metrics)

    def _diverged(self, what: str, *, saving: bool = False) -> DivergenceError:
        """The error for training that diverged: ``what`` became NaN or inf."""
        return divergence_error(self, what, saving=saving)

    def _refuse_diverged(self) -> None:
        """Raise DivergenceError before saving weights or optimizer state that are not finite
        (such a save would not load, and would replace the last good one)."""
        broken = not_finite_tensor(self._networks(), self.optimizer)
        if broken is not None:
            raise self._diverged(broken, saving=True)

    def progress_metrics(self) -> dict[str, str]:
        """Short figures a progress display shows besides reward and loss (``{"eps": ...}``)."""
        return {}

    def episodes_in_progress(self) -> list[int]:
        """The steps taken so far by each episode under way (one per training env, none between
        segments); a checkpoint or a test on the training env ends them uncounted."""
        return self._loop.episodes_in_progress() if self._loop is not None else []

    def _close_episodes(self) -> None:
        if self._loop is not None:
            self._loop.close_episodes()

    # ---- testing -----------------------------------------------------------------------------
    def test(
        self,
        episodes: int = 10,
        *,
        env: Any = None,
        callbacks: Sequence[Callback] = (),
        render: bool = False,
        seed: int | None = None,
        epsilon: float = 0.0,
        progress: bool | None = None,
        max_episode_steps: int | None = None,
    ) -> History:
        """Play ``episodes`` episodes greedily (a random action with probability ``epsilon``);
        returns History.

        ``env`` defaults to a fresh copy of the training env (or the training env itself when
        it was given as an instance). With ``render``, ``env.render()`` is called every step and
        a returned frame is passed to callbacks as ``logs["frame"]``.

        An episode that has not ended after ``max_episode_steps`` steps ends there, as
        truncated. By default that is the env's own limit (its spec's ``max_episode_steps``) or
        else :data:`renshu.train.evaluate.TEST_STEP_CAP` steps, with a warning when an episode
        reaches it.
        """
        episodes = count("episodes", episodes)
        limit = None if max_episode_steps is None else whole_number(max_episode_steps)
        check(
            "max_episode_steps",
            max_episode_steps is None or (limit is not None and limit >= 1),
            "an int >= 1 or None (1e5 is accepted)",
            max_episode_steps,
        )
        max_episode_steps = limit
        test_env = make(env) if env is not None else self._eval_env()
        return evaluate(
            self,
            test_env,
            episodes,
            callbacks=callbacks,
            render=render,
            seed=seed,
            epsilon=epsilon,
            max_episode_steps=max_episode_steps,
        )

    def _eval_env(self) -> gymnasium.Env[Any, Any]:
        if self.env_spec is not None:
            if not hasattr(self, "_cached_eval_env"):
                self._cached_eval_env = make(self.env_spec)
            return self._cached_eval_env
        if self._train_env_instance is not None:
            self._close_episodes()  # testing resets the training env: the next fit step restarts
            return self._train_env_instance
        if self._env_class is not None:  # a vector env of a class: test a fresh copy
            if not hasattr(self, "_cached_eval_env"):
                self._cached_eval_env = make(self._env_class)
            return self._cached_eval_env
        spec = getattr(self.env, "spec", None)
        if spec is not None:
            if not hasattr(self, "_cached_eval_env"):
                self._cached_eval_env = gymnasium.make(spec.id, **(spec.kwargs or {}))
            return self._cached_eval_env
        raise self._missing_env("test")

    def set_env(self, env: Any) -> None:
        """Attach an environment (spaces must match the agent's) for further fit/test."""
        vec, instance = vectorize(env, self.config.num_envs, self._check_spaces)
        if (
            vec.single_observation_space.shape != self.observation_space.shape
            or (
                self._encoder is not None and vec.single_observation_space != self.observation_space
            )
            or vec.single_action_space != self.action_space
        ):
            raise ConfigError(
                f"The env's spaces {vec.single_observation_space}, {vec.single_action_space} "
                f"do not match the agent's {self.observation_space}, {self.action_space}."
            )
        if self._encoder is not None:
            vec = EncodedVectorEnv(vec, self._encoder)
        self._close_episodes()
        self.env, self.env_spec, self._loop = vec, (env if isinstance(env, str) else None), None
        self._train_env_instance = instance
        self._env_class = env if isinstance(env, type) else None
        if hasattr(self, "_cached_eval_env"):
            del self._cached_eval_env
        self.env_name, self._env_ref = env_name(env), None

    def _missing_env(self, call: str) -> ConfigError:
        """The error of test()/fit() without an env: which env it was trained on, how to pass it."""
        fix = "agent.test(env=...)" if call == "test" else "agent.set_env(...)"
        if self._env_ref is not None:
            return ConfigError(
                f"This agent has no environment to {call} on: it was saved with the environment "
                f"{self._env_ref!r}, which is Python code (a file or module) that renshu does not "
                "import when loading a saved agent (it may come from someone else). If you trust "
                f"it, pass it: renshu.load(path, env={self._env_ref!r}) or renshu.load(path, "
                f"trust_env=True), or {fix}."
            )
        trained = f"it was trained on {self.env_name}" if self.env_name else "it was loaded"
        return ConfigError(
            f"This agent has no environment to {call} on: {trained}, an environment object "
            "that a saved agent cannot record. Pass the same environment: "
            f"renshu.load(path, env=<your {self.env_name or 'env'}>), or {fix}."
        )

    # ---- saving ------------------------------------------------------------------------------
    def save(self, path: str | Path, *, replay: bool = False, overwrite: bool = False) -> Path:
        """Save to a directory (safetensors + JSON, written atomically). ``replay=True`` adds
        the replay buffer (or rollout).

        Saving never deletes what renshu did not write: a file or a non-empty folder that is
        not a saved agent at ``path`` is refused; a saved agent there is replaced only with
        ``overwrite=True``. Raises CheckpointError naming the path when writing fails, and
        DivergenceError (writing nothing) when the weights or optimizer state hold NaN or inf.
        """
        self._refuse_diverged()
        return state.save_agent(self, path, replay=replay, overwrite=overwrite)

    def save_checkpoint(self, directory: str | Path, *, replay: bool = True) -> Path:
        """Save ``directory/<num_steps>/`` mid-training; envs restart after it, so a resumed run
        continues exactly as this one does. A checkpoint of the same step is replaced (never by
        diverged weights: DivergenceError, before anything is written)."""
        self._refuse_diverged()
        self._close_episodes()
        return self.save(Path(directory) / str(self.num_steps), replay=replay, overwrite=True)

    @classmethod
    def from_checkpoint(
        cls,
        ckpt: checkpoint.Checkpoint,
        env: Any = None,
        *,
        trust_env: bool = False,
        **overrides: Any,
    ) -> Any:
        """Rebuild an agent from :func:`renshu.checkpoint.read` output (use ``renshu.load``).

        A saved env that is a file or module reference is built only with ``trust_env``.
        """
        if (
            "net" in ckpt.config.get("custom", [])
            and ckpt.config["config"].get("normalize_obs", False)
            and not any(
                key.split(".")[1:2] in (["preprocess"], ["module"])
                for key in ckpt.tensors["weights"]
            )
        ):  # saved before a module got the input layer (nets.ModuleNet): it saw raw observations
            overrides.setdefault("normalize_obs", False)
        return state.load_agent(cls, ckpt, env, trust_env=trust_env, **overrides)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(env={self.env_spec!r}, steps={self.num_steps}, "
            f"device={self.device})"
        )


def _short_repr(value: Any, limit: int = 40) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."

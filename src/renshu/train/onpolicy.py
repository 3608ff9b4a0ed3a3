"""What PPO and A2C share: the options, the actor-critic, collecting a rollout, saving it.

:class:`OnPolicyAgent` acts with a stochastic policy (:mod:`renshu.actor_critic`), stores every
step of the shared training loop in a :class:`~renshu.rollout.Rollout` together with the values
and log-probabilities it acted with, and every ``n_steps`` loop steps computes GAE advantages and
calls the algorithm's ``_update`` (agents/ppo.py, agents/a2c.py) on the whole rollout.

Episodes that end by a time limit bootstrap from the value of their final observation (SB3's
handling of truncation); episodes cut by a checkpoint or a test on the training env are treated
alike, so a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
from gymnasium import spaces

from renshu import checkpoint
from renshu.actor_critic import ActorCritic, build_actor_critic
from renshu.config import (
    MAX_ENVS,
    MAX_THREADS,
    Note,
    OneOf,
    Range,
    Satisfies,
    check_device,
    format_bytes,
    validate,
)
from renshu.distributions import for_space
from renshu.errors import ConfigError
from renshu.fastpath import FlatParams, numpy_actor_critic
from renshu.inputs import observation_problems
from renshu.nets import RunningNorm, input_norm
from renshu.optim import OPTIMIZERS, make_optimizer
from renshu.rollout import Rollout
from renshu.train.agent import Agent
from renshu.train.divergence import actions_finite
from renshu.train.loop import MAX_WINDOW, Step
from renshu.train.memory import check_memory, mlp_size

ACTION_SPACES = (spaces.Discrete, spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)


@dataclass
class OnPolicyConfig:
    """Options PPO and A2C share (Stable-Baselines3's names). Defaults are PPO's; A2C's config
    sets its own."""

    learning_rate: Annotated[float, Range(gt=0)] = 3e-4
    """Optimizer step size, > 0."""
    lr_schedule: Annotated[str, OneOf("constant", "linear")] = "constant"
    """"linear": the learning rate falls linearly to 0 at the step fit() trains to (a run's
    total); another fit() call, or a resume with a new total, moves that end: from then on the
    rate is the one a training of the new length has at each step."""
    n_steps: Annotated[int, Range(ge=1)] = 2048
    """Steps per env in each rollout (a rollout holds n_steps * num_envs transitions), >= 1."""
    gamma: Annotated[float, Range(0, 1)] = 0.99
    """Discount factor in [0, 1]."""
    gae_lambda: Annotated[float, Range(0, 1)] = 0.95
    """GAE's lambda in [0, 1] (1: Monte-Carlo returns, 0: one-step TD errors)."""
    ent_coef: Annotated[float, Range(ge=0)] = 0.0
    """Weight of the entropy bonus in the loss, >= 0."""
    vf_coef: Annotated[float, Range(ge=0)] = 0.5
    """Weight of the value loss, >= 0."""
    max_grad_norm: Annotated[float, Range(gt=0)] | None = 0.5
    """Clip the gradient norm to this, > 0 (None: no clipping)."""
    normalize_advantage: bool = True
    """Normalize the advantages of each minibatch to mean 0, std 1."""
    optimizer: (
        Annotated[str, OneOf(*OPTIMIZERS)]
        | Annotated[Any, Satisfies("a factory params -> torch.optim.Optimizer", callable)]
    ) = "adam"
    """"adam", "rmsprop", "rmsprop_graves", or a factory ``params -> torch.optim.Optimizer``."""
    net: Annotated[str, OneOf("auto", "mlp", "cnn")] | list[Annotated[int, Range(ge=1)]] = "auto"
    """"auto" (CNN for images, else separate 64x64 tanh MLPs for policy and value), "mlp",
    "cnn", or hidden sizes like [64, 64]."""
    shared: bool = False
    """One MLP torso for policy and value instead of one each (a CNN is always shared)."""
    log_std_init: Annotated[float, Range(-20, 2)] = 0.0
    """Initial log standard deviation of the Gaussian policy of a Box action space, in
    [-20, 2] (a standard deviation from 2e-9 to 7.4; NaN and infinities are refused)."""
    window: Annotated[int, Range(1, MAX_WINDOW)] = 1
    """Frames per observation, in [1, 1000]: the last W frames, stacked by the agent."""
    num_envs: Annotated[
        int, Range(1, MAX_ENVS), Note("copies are built one by one: 1e7 take hours")
    ] = 1
    """Environments stepped together (a vector env), in [1, 65536]."""
    normalize_obs: bool = True
    """Normalize non-uint8 observations by their running mean and standard deviation (kept in
    the network, updated while fit() runs, frozen in test and act)."""
    normalize_reward: bool = False
    """Scale rewards by the running standard deviation of each env's discounted return (SB3's
    VecNormalize reward scaling), clipped to +-10; the statistics are saved with the agent.
    Episode rewards in logs and tests stay the env's own."""
    device: str = "auto"
    """"auto" (CUDA when available), "cpu", "cuda", "cuda:1", ...: one torch can use here."""
    threads: Annotated[int, Range(1, MAX_THREADS), Note("more only wait for each other")] | None = 1
    """CPU threads for torch and NumPy's BLAS while fit/test run, in [1, 256], or None to leave
    them."""
    seed: Annotated[int, Range(ge=0)] | None = None
    """Seeds the network, action sampling, minibatches and envs, >= 0; None draws one."""

    def __post_init__(self) -> None:
        validate(self)  # every field's type, then its range, from the annotations above
        check_device(self.device)


def space_problems(
    observation_space: Any, action_space: Any, name: str
) -> list[tuple[str, str, str]]:
    """Why the on-policy algorithm ``name`` cannot train on these spaces (``renshu check --algo``
    and the agent ask the same)."""
    problems: list[tuple[str, str, str]] = []
    if not isinstance(action_space, ACTION_SPACES):
        problems.append(
            (
                "algo-action-space",
                f"{name} needs a Discrete, Box, MultiDiscrete or MultiBinary action space, got "
                f"{action_space}.",
                "Wrap the env so that its actions are one of those (a Dict or Tuple of actions "
                "can be flattened into a Box or MultiDiscrete).",
            )
        )
    else:
        try:
            for_space(action_space)
        except ConfigError as error:
            problems.append(
                ("algo-action-space", f"{name} cannot act in {action_space}: {error}.", "")
            )
    return problems + observation_problems(observation_space, name)


class RewardScale(torch.nn.Module):
    """Rewards divided by the running standard deviation of the discounted return, clipped to
    +-REWARD_CLIP. The per-env returns and the statistics are buffers (saved with the agent, so
    a resumed run scales alike)."""

    REWARD_CLIP = 10.0

    returns: torch.Tensor

    def __init__(self, num_envs: int, gamma: float) -> None:
        super().__init__()
        self.gamma = gamma
        self.norm = RunningNorm(())
        self.register_buffer("returns", torch.zeros(num_envs, dtype=torch.float64))

    def forward(
        self, rewards: np.ndarray, done: np.ndarray, valid: np.ndarray | None
    ) -> np.ndarray:
        returns = self.returns.numpy()
        live = slice(None) if valid is None else valid
        returns[live] = returns[live] * self.gamma + rewards[live]
        self.norm.update(returns[live])
        returns[done] = 0.0
        scale = float(self.norm.scale)
        return np.clip(rewards * scale, -self.REWARD_CLIP, self.REWARD_CLIP)


def normalized(x: np.ndarray) -> np.ndarray:
    """``(x - mean) / (std + 1e-8)`` with the sample std, as torch's ``std()`` (NumPy's
    ``mean``/``std`` wrappers cost more than the arithmetic at minibatch sizes)."""
    centered = x - np.add.reduce(x) / len(x)
    return centered / np.float32(math.sqrt(np.dot(centered, centered) / (len(x) - 1)) + 1e-8)


class OnPolicyAgent(Agent):
    """The part of PPO and A2C that is not their update (see the module docstring)."""

    @classmethod
    def space_problems(
        cls, observation_space: Any, action_space: Any
    ) -> list[tuple[str, str, str]]:
        """The one verdict on spaces (``renshu check --algo ppo`` asks it too)."""
        return space_problems(observation_space, action_space, cls.algo.upper())

    def __init__(self, env: Any, config: Any, options: dict[str, Any]) -> None:
        super().__init__(env, config, options)  # config, env, spaces, device, seeds, counters
        cfg = self.config
        params, inputs = mlp_size(cfg.net, self._frame_space.dtype, self.obs_shape, 1)
        storage = (
            cfg.n_steps
            * cfg.num_envs
            * (int(np.prod(self.obs_shape)) * self._frame_space.dtype.itemsize + 64)
        )
        check_memory(
            storage=(
                storage,
                f"n_steps={cfg.n_steps} with num_envs={cfg.num_envs} needs "
                f"{format_bytes(storage)} for the rollout",
                "lower n_steps or num_envs",
            ),
            network_params=2 * params,
            network_inputs=inputs,
            network_what=f"net={cfg.net!r}",
            network_fix="use smaller hidden sizes",
            device=self.device,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self._seeds[0].generate_state(1)[0]))
            self.policy: ActorCritic = build_actor_critic(
                self.obs_shape,
                self._frame_space.dtype,
                self.action_space,
                net=cfg.net,
                normalize=self._frame_space.shape if cfg.normalize_obs else False,
                inputs=self._encoder.parts if self._encoder else None,
                obs_bounds=(self._frame_space.low, self._frame_space.high),
                shared=cfg.shared,
                log_std_init=cfg.log_std_init,
            ).to(self.device)
        self._obs_norm = input_norm(self.policy)
        # All parameters in one flat tensor (fastpath.FlatParams): a named optimizer steps one
        # tensor, and gradient clipping is one op (eager torch's per-tensor overhead dominates at
        # this size).
        self._flat = FlatParams(self.policy)
        self.optimizer = make_optimizer(
            cfg.optimizer,
            [self._flat.leaf] if isinstance(cfg.optimizer, str) else self.policy.parameters(),
            cfg.learning_rate,
        )
        # The default MLP on the CPU acts in NumPy on the same memory (fastpath.py), chosen here
        # once; anything else acts with torch.
        self._fast = numpy_actor_critic(self.policy)
        self._float_actions = isinstance(self.action_space, spaces.Box)
        dist = self.policy.dist
        self.rollout = Rollout(
            cfg.n_steps,
            cfg.num_envs,
            self.obs_shape,
            self._frame_space.dtype,
            dist.action_shape,
            dist.action_dtype,
        )
        # Actions are sampled from a torch generator seeded from the agent's RNG every step, so
        # the RNG's saved state is all a resumed run needs to sample alike.
        self._generator = torch.Generator(device=self.device)
        self._acted: tuple[np.ndarray, Any, Any, Any] | None = None
        self._window: np.ndarray | None = None  # the windows the next actions are taken on
        self.reward_scale = RewardScale(cfg.num_envs, cfg.gamma) if cfg.normalize_reward else None
        self._sums: dict[str, float] = {}
        self._updates_since_log = 0

    # ---- acting ------------------------------------------------------------------------------
    def _tensor(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(obs, device=self.device)

    def _greedy(self, window: np.ndarray) -> np.ndarray:
        if self._fast is not None:
            return self._fast.greedy(window)
        with torch.inference_mode():
            actions, _, _ = self.policy.act(self._tensor(window), deterministic=True)
        return actions.cpu().numpy()

    def _to_env(self, actions: np.ndarray) -> np.ndarray:
        return self.policy.dist.to_env(actions)

    def _explore(self, window: np.ndarray) -> np.ndarray:
        if self._fast is not None:  # values later, for the whole rollout at once
            actions, log_probs = self._fast.act(window, self.rng)
            if self._float_actions and not actions_finite(actions):
                raise self._diverged("an action the policy chose")
            self._acted = (window, actions, log_probs, None)
            return self._to_env(actions)
        self._generator.manual_seed(int(self.rng.integers(2**62)))
        with torch.inference_mode():
            sampled, logp, value = self.policy.act(self._tensor(window), generator=self._generator)
        if self._float_actions and not bool(torch.isfinite(sampled).all()):
            raise self._diverged("an action the policy chose")
        self._acted = (window, sampled, logp, value)
        return self.policy.dist.to_env(sampled)

    def _values(self, obs: np.ndarray) -> np.ndarray:
        if self._fast is not None:
            return self._fast.values(obs)
        with torch.inference_mode():
            return self.policy.value(self._tensor(obs)).float().cpu().numpy()

    # ---- collecting --------------------------------------------------------------------------
    def _learn(self, step: Step) -> None:
        assert self._acted is not None
        window, actions, log_probs, values = self._acted
        final_values = None
        cut = step.truncated & ~step.terminated
        if np.count_nonzero(cut):  # bootstrap a time-limit end from its final observation
            final_values = np.zeros(len(cut), np.float32)
            final = step.next_obs
            if self.config.window > 1:
                final = np.concatenate([window[:, 1:], step.next_obs[:, None]], axis=1)
            final_values[cut] = self._values(final[cut])
        rewards = step.rewards
        if self.reward_scale is not None:
            rewards = self.reward_scale(rewards, step.terminated | step.truncated, step.valid)
        self.rollout.add(
            window,
            actions,
            rewards,
            step.terminated,
            step.truncated,
            values,
            log_probs,
            valid=step.valid,
            final_values=final_values,
        )
        self._window = step.window
        if self.rollout.full:
            self._finish_rollout(step.window)

    def _on_cut(self, frames: np.ndarray, mask: np.ndarray) -> None:
        """Open episodes end here: the last step stored becomes a time-limit end that
        bootstraps from the current windows; the rollout goes on after the restart."""
        t = self.rollout.pos - 1
        if t < 0 or self._window is None:
            return
        open_ = mask & ~(self.rollout.terminated[t] | self.rollout.truncated[t])
        if open_.any():
            self.rollout.truncated[t, open_] = True
            self.rollout.final_values[t, open_] = self._values(self._window[open_])

    def _finish_rollout(self, window: np.ndarray) -> None:
        cfg = self.config
        rollout = self.rollout
        n, obs = rollout.pos, rollout.obs
        # NumPy acting leaves the values out: one pass over the rollout (also when a rollout
        # begun that way is resumed on a device torch serves)
        if self._fast is not None or np.isnan(rollout.values[:n]).any():
            flat = obs[:n].reshape(n * rollout.num_envs, *obs.shape[2:])
            rollout.values[:n] = self._values(flat).reshape(n, rollout.num_envs)
        rollout.compute_returns_and_advantages(self._values(window), cfg.gamma, cfg.gae_lambda)
        progress = self._progress()  # schedules end where the running fit() does
        if cfg.lr_schedule == "linear":
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.learning_rate * (1.0 - progress)
        self._update(progress)
        if not bool(torch.isfinite(self._flat.data).all()):  # one reduction per rollout
            raise self._diverged("a weight after the update")
        self.rollout.reset()

    def _update(self, progress: float) -> None:
        """The algorithm's update on the full rollout (``progress``: :meth:`_progress`)."""
        raise NotImplementedError

    def _step_optimizer(self, loss: torch.Tensor) -> None:
        """One gradient step on ``loss`` (with gradient clipping)."""
        self._flat.zero_grad()
        loss.backward()
        if self.config.max_grad_norm is not None:
            self._flat.clip_grad_norm_(self.config.max_grad_norm)
        self.optimizer.step()
        self.counters.num_updates += 1

    def _numpy_step(
        self,
        arrays: dict[str, np.ndarray],
        indices: np.ndarray,
        *,
        clip: float | None,
        clip_vf: float | None,
    ) -> tuple[float, float, float, float, float]:
        """One gradient step with the NumPy loss and gradient of the default MLP (fastpath.py)
        on the samples ``indices`` of the rollout's :meth:`~renshu.rollout.Rollout.flat_arrays`
        (call ``self._flat.attach_grads()`` first). ``clip`` None is A2C's plain policy
        gradient. Returns (policy loss, value loss, entropy, approximate KL, clip fraction)."""
        cfg = self.config
        assert self._fast is not None
        advantages = arrays["advantages"][indices]
        if cfg.normalize_advantage and len(indices) > 1:
            advantages = normalized(advantages)
        figures = self._fast.loss(
            arrays["obs"][indices],
            arrays["actions"][indices],
            arrays["log_probs"][indices],
            advantages,
            arrays["returns"][indices],
            arrays["values"][indices],
            clip=clip,
            clip_vf=clip_vf,
            ent_coef=cfg.ent_coef,
            vf_coef=cfg.vf_coef,
        )
        if not math.isfinite(figures[0] + figures[1]):  # (floats: free to check)
            raise self._diverged("the policy or value loss")
        if cfg.max_grad_norm is not None:
            self._flat.clip_grad_norm_(cfg.max_grad_norm)
        self.optimizer.step()
        self.counters.num_updates += 1
        return figures

    def _record(self, **metrics: float) -> None:
        for key, value in metrics.items():
            self._sums[key] = self._sums.get(key, 0.0) + value
        self._updates_since_log += 1

    def _metrics(self) -> dict[str, float]:
        out = {"charts/learning_rate": float(self.optimizer.param_groups[0]["lr"])}
        if self._updates_since_log:
            n = self._updates_since_log
            out.update({f"losses/{k}": v / n for k, v in self._sums.items()})
            self._sums, self._updates_since_log = {}, 0
        return out

    def _explained_variance(self) -> float:
        r = self.rollout
        valid = r.valid[: r.pos]
        returns, values = r.returns[: r.pos][valid], r.values[: r.pos][valid]
        var = float(np.var(returns))
        return float("nan") if var == 0 else 1.0 - float(np.var(returns - values)) / var

    # ---- saving ------------------------------------------------------------------------------
    def _networks(self) -> dict[str, torch.nn.Module]:
        if self.reward_scale is None:
            return {"policy": self.policy}
        return {"policy": self.policy, "reward_scale": self.reward_scale}

    def _extra_state(self) -> dict[str, Any]:
        return {"rollout_pos": self.rollout.pos}

    def _load_extra_state(self, saved: dict[str, Any], ckpt: checkpoint.Checkpoint) -> None:
        checkpoint.check_counter(saved, "rollout_pos", ckpt.path / "state.json")
        self._saved_rollout_pos = int(saved["rollout_pos"])  # the rollout file must agree

    def _replay_state(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.rollout.state_dict().items()}

    def _load_replay(self, arrays: dict[str, np.ndarray], file: Path) -> None:
        pos = getattr(self, "_saved_rollout_pos", 0)
        try:
            checkpoint.load_rollout(self.rollout, arrays, self.action_space, file, pos=pos)
        except (ConfigError, KeyError, ValueError, TypeError) as error:
            raise checkpoint.CheckpointError(
                f"{str(file)!r} does not fit this agent's rollout ({error}). Load without "
                "overriding n_steps or num_envs, or load another checkpoint."
            ) from None

"""The Agent base class serves an algorithm other than DQN: a minimal linear agent (defined
here, also used by test_state.py) fits through the shared loop, acts, tests and re-attaches
envs."""

from __future__ import annotations

import math
import signal
import threading
from dataclasses import dataclass
from typing import Annotated, Any

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces

from renshu import checkpoint
from renshu.callbacks import Callback
from renshu.config import Range, validate
from renshu.errors import ConfigError, EnvError
from renshu.optim import make_optimizer
from renshu.train.agent import Agent
from renshu.train.loop import Step

torch.set_num_threads(1)


@dataclass
class LinearConfig:
    """The options of :class:`LinearAgent`."""

    learning_rate: Annotated[float, Range(gt=0)] = 1e-2
    optimizer: str = "adam"
    window: Annotated[int, Range(1, 10)] = 1
    num_envs: Annotated[int, Range(ge=1)] = 1
    device: str = "cpu"
    threads: Annotated[int, Range(ge=1)] | None = 1
    seed: Annotated[int, Range(ge=0)] | None = None

    def __post_init__(self) -> None:
        validate(self)


class LinearAgent(Agent):
    """One linear layer from the flattened window to action scores; explores uniformly at
    random; each step takes an Adam step on a dummy loss; counts its learn calls (saved)."""

    algo = "linear"
    config_class = LinearConfig

    @staticmethod
    def space_problems(observation_space: Any, action_space: Any) -> list[tuple[str, str, str]]:
        if not isinstance(action_space, spaces.Discrete):
            return [("act", f"needs Discrete actions, got {action_space}.", "Discretize.")]
        return []

    def __init__(self, env: Any, *, config: LinearConfig | None = None, **options: Any) -> None:
        super().__init__(env, config, options)
        n_inputs = math.prod(self.obs_shape)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self._seeds[0].generate_state(1)[0]))
            self.net = torch.nn.Linear(n_inputs, int(self.action_space.n)).to(self.device)
        self.optimizer = self._make_optimizer()
        self.learn_calls = 0
        self.transitions = 0
        self.steps: list[Step] = []
        self.cuts: list[tuple[np.ndarray, np.ndarray]] = []
        self._loss_sum, self._losses = 0.0, 0
        self._window = np.zeros((1, *self.obs_shape), np.float32)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return make_optimizer(
            self.config.optimizer, self.net.parameters(), self.config.learning_rate
        )

    def _scores(self, window: np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(window, np.float32), device=self.device)
        return self.net(x.reshape(len(x), -1))

    def _explore(self, window: np.ndarray) -> np.ndarray:
        self._window = window  # what the step about to be learned acts on
        return self.rng.integers(int(self.action_space.n), size=self.config.num_envs)

    def _greedy(self, window: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self._scores(window).argmax(dim=1).cpu().numpy()

    def _learn(self, step: Step) -> None:
        self.learn_calls += 1
        self.transitions += len(step.rewards) if step.valid is None else int(step.valid.sum())
        self.steps.append(step)
        loss = (self._scores(self._window) ** 2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.counters.num_updates += 1
        self._loss_sum, self._losses = self._loss_sum + float(loss.detach()), self._losses + 1

    def _metrics(self) -> dict[str, float]:
        metrics = {"losses/dummy": self._loss_sum / max(self._losses, 1)}
        self._loss_sum, self._losses = 0.0, 0
        return metrics

    def _networks(self) -> dict[str, torch.nn.Module]:
        return {"linear": self.net}

    def _extra_state(self) -> dict[str, Any]:
        return {"learn_calls": self.learn_calls}

    def _load_extra_state(self, saved: dict[str, Any], ckpt: checkpoint.Checkpoint) -> None:
        checkpoint.check_counter(saved, "learn_calls", ckpt.path / "state.json")
        self.learn_calls = saved["learn_calls"]

    def _on_cut(self, frames: np.ndarray, mask: np.ndarray) -> None:
        self.cuts.append((frames.copy(), mask.copy()))


class Episodes(Callback):
    def __init__(self) -> None:
        self.ends: list[tuple[int, dict[str, Any]]] = []
        self.begins: list[int] = []
        self.logs: list[tuple[int, dict[str, float]]] = []
        self.ticks: list[int] = []

    def on_episode_begin(self, episode: int, logs: dict[str, Any]) -> None:
        self.begins.append(episode)

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        self.ends.append((episode, logs))

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        self.logs.append((step, logs))

    def on_tick(self, step: int) -> None:
        self.ticks.append(step)


# ---- fit -----------------------------------------------------------------------------------


def test_fit_on_cartpole_runs_the_shared_loop() -> None:
    agent = LinearAgent("CartPole-v1", seed=0)
    initial = agent.net.weight.detach().clone()
    episodes = Episodes()
    history = agent.fit(300, callbacks=[episodes], progress=False, log_every=100)
    assert agent.num_steps == 300 and agent.learn_calls == 300 and agent.num_updates == 300
    assert agent.transitions == 300
    # random CartPole episodes last ~10-60 steps: several end in 300 steps
    assert len(episodes.ends) >= 3
    lengths = [logs["nb_episode_steps"] for _, logs in episodes.ends]
    assert history.history["nb_episode_steps"] == lengths
    # CartPole pays 1 a step: every episode's reward is its length
    assert history.history["episode_reward"] == [float(n) for n in lengths]
    assert [e for e, _ in episodes.ends] == list(range(len(episodes.ends)))
    assert episodes.begins == list(range(len(episodes.ends) + 1))
    assert agent.num_episodes == len(episodes.ends) + 1
    ends = [logs["nb_steps"] for _, logs in episodes.ends]
    assert ends == list(np.cumsum(lengths))
    assert episodes.ticks == list(range(1, 301))
    open_episode = [300 - ends[-1]] if ends[-1] < 300 else []
    assert agent.episodes_in_progress() == open_episode
    assert not torch.equal(agent.net.weight, initial)  # _learn's optimizer steps took effect


def test_fit_logs_metrics_to_on_log() -> None:
    class LogFromCallback(Callback):
        def on_tick(self, step: int) -> None:
            if step == 50:
                self.agent.log_metrics(step, {"custom/value": 1.5})

    agent = LinearAgent("CartPole-v1", seed=0)
    episodes = Episodes()
    history = agent.fit(300, callbacks=[LogFromCallback(), episodes], log_every=100)
    steps = [s for s, _ in episodes.logs]
    assert steps == [50, 100, 200, 300]
    assert episodes.logs[0][1] == {"custom/value": 1.5}
    periodic = episodes.logs[1][1]
    assert periodic["charts/SPS"] > 0 and "losses/dummy" in periodic
    assert "charts/episode_reward" in periodic
    assert sorted(history.metrics) == [50, 100, 200, 300]
    agent.log_metrics(400, {"after": 1.0})  # outside fit: goes nowhere, raises nothing
    assert len(episodes.logs) == 4


def test_ctrl_c_during_fit_stops_after_the_step() -> None:
    assert threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGINT)

    class CtrlC(Callback):
        def on_tick(self, step: int) -> None:
            if step == 40:
                signal.raise_signal(signal.SIGINT)

    agent = LinearAgent("CartPole-v1", seed=0)
    history = agent.fit(300, callbacks=[CtrlC()], progress=False)
    assert history.interrupted == "SIGINT"
    assert agent.num_steps == 40
    assert signal.getsignal(signal.SIGINT) is before
    history = agent.fit(10, progress=False)  # fit again: the flag is fresh
    assert history.interrupted is None and agent.num_steps == 50


def test_stop_training_from_a_callback_stops_fit() -> None:
    class Stop(Callback):
        def on_tick(self, step: int) -> None:
            if step == 25:
                self.agent.stop_training = True

    agent = LinearAgent("CartPole-v1", seed=0)
    agent.fit(300, callbacks=[Stop()], progress=False)
    assert agent.num_steps == 25


def test_fit_is_reproducible_for_a_seed() -> None:
    def weights(seed: int) -> torch.Tensor:
        agent = LinearAgent("CartPole-v1", seed=seed)
        agent.fit(100, progress=False)
        return agent.net.weight.detach().clone()

    assert torch.equal(weights(1), weights(1))
    assert not torch.equal(weights(1), weights(2))


def test_fit_on_a_next_step_vector_env_learns_transitions_only() -> None:
    agent = LinearAgent("CartPole-v1", seed=0, num_envs=2)
    agent.fit(300, progress=False)
    assert agent.num_steps >= 300 and agent.transitions == agent.num_steps
    masks = [s.valid for s in agent.steps if s.valid is not None]
    assert masks and all(not m.all() for m in masks)  # a mask marks the reset steps
    assert all(s.obs.shape == (2, 4) for s in agent.steps)


def test_fit_with_a_window_stacks_frames() -> None:
    agent = LinearAgent("CartPole-v1", seed=0, window=3)
    assert agent.obs_shape == (3, 4) and agent.net.in_features == 12
    agent.fit(50, progress=False)
    assert agent.steps[0].window.shape == (1, 3, 4)


def test_fit_refuses_a_bad_step_count_and_a_missing_env() -> None:
    agent = LinearAgent("CartPole-v1", seed=0)
    with pytest.raises(ConfigError, match="steps"):
        agent.fit(0)
    bare = LinearAgent(None, _spaces=(agent.observation_space, agent.action_space), seed=0)
    with pytest.raises(ConfigError, match=r"no environment to fit on.*agent.set_env"):
        bare.fit(10)


def test_env_error_during_fit_names_the_env_class() -> None:
    class Exploding(gymnasium.Env[np.ndarray, np.int64]):
        observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        action_space = spaces.Discrete(2)

        def reset(self, *, seed: int | None = None, options: Any = None) -> Any:
            super().reset(seed=seed)
            return np.zeros(2, np.float32), {}

        def step(self, action: Any) -> Any:
            raise KeyError("no such state")

    agent = LinearAgent(Exploding(), seed=0)
    with pytest.raises(EnvError) as caught:
        agent.fit(10, progress=False)
    text = str(caught.value)
    assert text.startswith("Exploding: step() raised KeyError")
    assert "stepping env 0 at training step 0" in text


# ---- act -------------------------------------------------------------------------------------


def test_act_takes_one_observation_or_a_batch() -> None:
    agent = LinearAgent("CartPole-v1", seed=0)
    action = agent.act(np.zeros(4, np.float32))
    assert isinstance(action, int) and action in (0, 1)
    assert agent.act([0.1, 0.2, 0.3, 0.4]) in (0, 1)
    batch = agent.act(np.zeros((3, 4)))
    assert isinstance(batch, np.ndarray) and batch.shape == (3,)


@pytest.mark.parametrize(
    ("obs", "phrase"),
    [
        (np.zeros(3), "got shape (3,)"),
        (np.zeros((2, 5)), "got shape (2, 5)"),
        (np.float32(1.0), "got shape ()"),
        (None, "got NoneType None"),
        ("left", "got str 'left'"),
        ({"x": 1}, "got dict"),
        ([[1, 2], [3]], "which is not numbers"),
    ],
)
def test_act_refuses_a_wrong_observation(obs: Any, phrase: str) -> None:
    agent = LinearAgent("CartPole-v1", seed=0)
    with pytest.raises(ConfigError) as caught:
        agent.act(obs)
    text = str(caught.value)
    assert text.startswith("act() expects an observation: a float32 array of shape (4,)")
    assert "(or a batch of shape (B, 4))" in text and phrase in text


def test_act_with_a_window_hints_at_stacking() -> None:
    agent = LinearAgent("CartPole-v1", seed=0, window=2)
    assert agent.act(np.zeros((2, 4))) in (0, 1)
    with pytest.raises(ConfigError, match="pass the last frames stacked on axis 0"):
        agent.act(np.zeros(4))


# ---- test ------------------------------------------------------------------------------------


def test_test_plays_greedy_episodes() -> None:
    agent = LinearAgent("CartPole-v1", seed=0)
    agent.fit(50, progress=False)
    history = agent.test(episodes=2, seed=0)
    lengths = history.history["nb_episode_steps"]
    assert len(lengths) == 2 and all(1 <= n <= 500 for n in lengths)
    assert history.history["episode_reward"] == [float(n) for n in lengths]
    again = agent.test(episodes=2, seed=0)
    assert again.history["nb_episode_steps"] == lengths  # greedy and seeded: the same play
    with pytest.raises(ConfigError, match="episodes"):
        agent.test(episodes=0)
    with pytest.raises(ConfigError, match="max_episode_steps"):
        agent.test(episodes=1, max_episode_steps=0)


def test_test_on_the_training_instance_cuts_open_episodes() -> None:
    env = gymnasium.make("CartPole-v1")
    agent = LinearAgent(env, seed=0)
    agent.fit(30, progress=False)
    open_steps = agent.episodes_in_progress()
    assert len(open_steps) == 1
    agent.test(episodes=1, max_episode_steps=5)
    assert [m.tolist() for _, m in agent.cuts] == [[True]]
    assert agent.episodes_in_progress() == []
    agent.fit(10, progress=False)  # the next fit starts a new segment
    assert agent.num_steps == 40


# ---- set_env ---------------------------------------------------------------------------------


def test_set_env_refuses_mismatched_spaces() -> None:
    agent = LinearAgent("CartPole-v1", seed=0)
    with pytest.raises(ConfigError, match="do not match the agent's") as caught:
        agent.set_env("MountainCar-v0")
    assert "Box(" in str(caught.value) and "Discrete(3)" in str(caught.value)
    with pytest.raises(ConfigError, match="needs Discrete actions, got Box"):
        agent.set_env("Pendulum-v1")


def test_set_env_attaches_a_matching_env_and_cuts_open_episodes() -> None:
    agent = LinearAgent("CartPole-v1", seed=0)
    agent.fit(20, progress=False)
    agent.set_env(gymnasium.make("CartPole-v1"))
    assert [m.tolist() for _, m in agent.cuts] == [[True]]
    assert agent.env_spec is None and agent.env_name == "CartPole-v1"
    agent.fit(20, progress=False)
    assert agent.num_steps == 40


def test_agent_refuses_spaces_its_algorithm_cannot_train_on() -> None:
    with pytest.raises(ConfigError, match="needs Discrete actions, got Box"):
        LinearAgent("Pendulum-v1")
    with pytest.raises(ConfigError, match="window=2 stacks frames of a Box observation"):
        LinearAgent(None, _spaces=(spaces.Discrete(3), spaces.Discrete(2)), window=2)

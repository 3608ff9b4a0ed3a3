# ruff: noqa: SIM108  (ShowEnv stays as the tutorial printed it)
"""Tutorial 000 end to end on renshu's keras-rl layer: a shower to keep between 37 and 39 degrees.

The tutorial wrote its own gym environment (``ShowEnv``), played it at random, then trained
keras-rl2's ``DQNAgent`` (Boltzmann policy, sequential memory, soft target updates), tested it
with an ``EpisodeLogger`` callback, plotted the temperatures and saved the weights. This script
does the same with ``renshu.compat.kerasrl``: the environment is pasted as printed (old gym API,
only the import now reads ``gymnasium``), the model is PyTorch instead of Keras, and the agent
lines are unchanged.

    python examples/shower_kerasrl.py                 # 20,000 steps, about a minute
    python examples/shower_kerasrl.py --steps 2000    # a quick look

Writes ``observations.png`` and the saved agent ``dqn_weights.h5f/`` into ``--out``.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

import gymnasium as gym  # the tutorial imported `gym`; Gymnasium is its maintained successor
import numpy as np
import torch
from gymnasium.spaces import Box, Discrete
from matplotlib.figure import Figure
from torch import nn

import renshu.compat.kerasrl as rl  # keras-rl's layout: rl.callbacks.Callback, rl.agents, ...
from renshu.compat.kerasrl import Adam, BoltzmannQPolicy, DQNAgent, SequentialMemory
from renshu.nets import summary

TUTORIAL_STEPS = 500  # the tutorial's dqn.fit(env, nb_steps=500)
DEFAULT_STEPS = 20_000  # seeds 0-4 all reach the optimum (about +59) by then
OUT = Path(__file__).resolve().parent / "output" / "shower_kerasrl"


# -- 1. The environment, as the tutorial printed it ---------------------------------------------
# The old gym API: reset() returns a bare temperature, step() returns 4 values and the noise
# comes from Python's `random`. renshu adapts it by itself the first time fit() sees it.
class ShowEnv(gym.Env):
    def __init__(self):
        # actions: 0 down, 1 stay, 2 up
        self.action_space = Discrete(3)
        # observations: the temperature
        self.observation_space = Box(low=np.array([0]), high=np.array([100]))
        # state: temperature
        self.state = 38 + random.randint(-1, 3)
        # seconds left
        self.shower_length = 60

    def step(self, action):
        # Apply action: 0 - 1 = -1 degree, 1 - 1 = 0, 2 - 1 = +1 degree
        self.state += action - 1
        # Reduce shower length by 1 second
        self.shower_length -= 1

        # Calculate reward
        if self.state >= 37 and self.state <= 39:
            reward = 1
        else:
            reward = -1

        # Check if shower is done
        if self.shower_length <= 0:
            done = True
        else:
            done = False

        # Apply temperature noise
        self.state += random.randint(-1, 1)
        # Set placeholder for info
        info = {}

        # Return step information
        return self.state, reward, done, info

    def render(self):
        pass

    def reset(self):
        # Reset shower temperature
        self.state = 38 + random.randint(-3, 3)
        # Reset shower time
        self.shower_length = 60
        return self.state


# -- The model: the tutorial's Dense(24)-Dense(24)-Dense(3), in PyTorch --------------------------
# It is written for raw temperatures, as the tutorial's was: renshu puts its input layer in
# front (the running normalization of its own networks), so the ReLUs see temperatures spread
# around 0 instead of bunched near 38 (see docs/coming-from-keras-rl.md, "Learning the shower").
def build_model(states: tuple[int, ...], actions: int) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(states[0], 24),
        nn.ReLU(),
        nn.Linear(24, 24),
        nn.ReLU(),
        nn.Linear(24, actions),  # a 'linear' activation is no activation
    )


# -- The agent: the tutorial's lines, unchanged ---------------------------------------------------
def build_agent(model: nn.Module, actions: int, seed: int | None = None) -> DQNAgent:
    policy = BoltzmannQPolicy()
    memory = SequentialMemory(limit=50000, window_length=1)
    dqn = DQNAgent(
        model=model,
        memory=memory,
        policy=policy,
        nb_actions=actions,
        nb_steps_warmup=10,
        target_model_update=1e-2,
        seed=seed,  # renshu's addition: reproducible runs
    )
    return dqn


# -- The tutorial's callback: every observation, reward and action, per episode -------------------
class EpisodeLogger(rl.callbacks.Callback):
    def __init__(self):
        self.observations = {}
        self.rewards = {}
        self.actions = {}

    def on_episode_begin(self, episode, logs):
        self.observations[episode] = []
        self.rewards[episode] = []
        self.actions[episode] = []

    def on_step_end(self, step, logs):
        episode = logs["episode"]
        self.observations[episode].append(logs["observation"])
        self.rewards[episode].append(logs["reward"])
        self.actions[episode].append(logs["action"])


def plot_temperatures(ax: Any, logger: EpisodeLogger, title: str) -> None:
    """The tutorial's plot (one line per test episode), with the 37-39 band shaded."""
    ax.axhspan(37, 39, color="tab:green", alpha=0.15, label="37-39: reward +1")
    for obs in logger.observations.values():
        ax.plot(np.arange(1, len(obs) + 1), np.asarray(obs).reshape(-1), linewidth=1)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Tutorial 000 on renshu.compat.kerasrl.")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="training steps")
    parser.add_argument("--seed", type=int, default=0, help="seeds the env, agent and plots")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the plot and weights")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # tiny networks: one thread is fastest, above all on a busy machine
    random.seed(args.seed)  # ShowEnv's noise comes from Python's random
    torch.manual_seed(args.seed)  # the model's initial weights come from torch's generator

    # -- 2. Look at the spaces, then play 25 episodes at random (the tutorial's loop) ------------
    env = ShowEnv()
    env.action_space.seed(args.seed)
    print("observation sample:", env.observation_space.sample())
    print("action sample:", env.action_space.sample())
    episodes = 25
    random_scores = []
    for episode in range(1, episodes + 1):
        state = env.reset()  # noqa: F841  (the tutorial's loop, as printed)
        done = False
        score = 0
        while not done:
            action = env.action_space.sample()
            n_state, reward, done, info = env.step(action)  # noqa: RUF059  (old 4-tuple)
            score += reward
        print(f"Episode:{episode} Score:{score}")
        random_scores.append(score)
    print(f"random actions: mean score {np.mean(random_scores):.1f} over {episodes} episodes")

    # -- 3. The model and the agent ---------------------------------------------------------------
    model = build_model(states=env.observation_space.shape, actions=env.action_space.n)
    print(summary(model, (1, *env.observation_space.shape)))  # Keras' model.summary() table
    dqn = build_agent(model=model, actions=env.action_space.n, seed=args.seed)
    dqn.compile(Adam(lr=1e-3), metrics=["mae"])  # metrics are accepted and ignored

    # -- 4. Train for the tutorial's 500 steps and test: not learned yet, as in the tutorial ----
    started = time.perf_counter()
    first = min(TUTORIAL_STEPS, args.steps)
    dqn.fit(env, nb_steps=first, visualize=False, verbose=1)
    early_logger = EpisodeLogger()
    scores = dqn.test(env, nb_episodes=10, visualize=False, callbacks=[early_logger], verbose=0)
    early_mean = float(np.mean(scores.history["episode_reward"]))
    print(f"after {first:,} steps: mean test score {early_mean:.1f}")

    # -- 5. Train on, then test again with the EpisodeLogger ------------------------------------
    if args.steps > first:
        dqn.fit(env, nb_steps=args.steps - first, visualize=False, verbose=1)
    train_seconds = time.perf_counter() - started
    cb_ep = EpisodeLogger()
    scores = dqn.test(env, nb_episodes=10, visualize=False, callbacks=[cb_ep])
    final_mean = float(np.mean(scores.history["episode_reward"]))
    print(f"after {args.steps:,} steps: mean test score {final_mean:.1f} (optimum about +59)")

    # -- 6. The observation plot, before and after ------------------------------------------------
    # (In a notebook the tutorial's `plt.plot(obs)` lines work as they are; a script draws on a
    # matplotlib Figure and saves it.)
    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    plot_temperatures(axes[0], early_logger, f"after {first:,} steps (mean {early_mean:+.1f})")
    plot_temperatures(axes[1], cb_ep, f"after {args.steps:,} steps (mean {final_mean:+.1f})")
    axes[0].set_ylabel("temperature")
    fig.suptitle("ShowEnv: temperature in 10 greedy test episodes")
    plot_path = args.out / "observations.png"
    fig.savefig(plot_path, dpi=100)

    # -- 7. Save the weights, load them into a fresh agent, check it acts the same -------------
    weights = args.out / "dqn_weights.h5f"  # a directory: safetensors + JSON, no pickle
    dqn.save_weights(weights, overwrite=True)
    fresh = build_agent(
        model=build_model(env.observation_space.shape, env.action_space.n),
        actions=env.action_space.n,
    )
    fresh.compile(Adam(lr=1e-3), metrics=["mae"])
    fresh.load_weights(weights)
    temperatures = range(20, 60)
    same = [dqn.forward(t) for t in temperatures] == [fresh.forward(t) for t in temperatures]
    print(f"saved to {weights}; the loaded agent acts the same: {same}")

    return {
        "steps": args.steps,
        "train_seconds": train_seconds,
        "random_mean": float(np.mean(random_scores)),
        "early_mean": early_mean,
        "test_mean": final_mean,
        "loaded_acts_the_same": same,
        "files": {"observations": plot_path, "weights": weights},
    }


if __name__ == "__main__":
    main()

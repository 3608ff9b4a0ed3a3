# ruff: noqa: SIM108  (ShowEnv stays as the tutorial printed it)
"""Tutorial 000 with renshu's own API: keep a shower between 37 and 39 degrees for 60 seconds.

The tutorial wrote a gym environment, played it at random, trained keras-rl2's DQNAgent
(Boltzmann exploration, soft target updates at 1e-2, 10 warm-up steps, a 24x24 network), tested
it with an EpisodeLogger callback, plotted the temperatures and saved the weights. Here the same
steps use ``renshu.make``, ``renshu.DQN``, ``renshu.EpisodeLogger``, ``agent.save`` and
``renshu.load``; the environment is renshu's built-in ``shower`` (the tutorial's dynamics as a
Gymnasium env), and the tutorial's own class is checked, played and tested on as well.

    python examples/shower.py                  # 6,000 steps, well under a minute
    python examples/shower.py --steps 1000     # a quick look

Writes ``learning_curve.png``, ``observations.png``, ``shower.gif`` and the saved agent
``agent/`` into ``--out``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.spaces import Box, Discrete

import renshu
from renshu.envs.shower import hold_policy, scripted_policy
from renshu.plots import learning_curve, plot_observations, save_figure
from renshu.video import record_episode, render_fps, save_gif

DEFAULT_STEPS = 6_000  # the shower preset's budget: the greedy policy is optimal by then
OUT = Path(__file__).resolve().parent / "output" / "shower"


# -- The tutorial's environment, as printed (old gym API, Python's random for the noise) ---------
class ShowEnv(gym.Env):
    def __init__(self):
        self.action_space = Discrete(3)  # 0: down, 1: stay, 2: up
        self.observation_space = Box(low=np.array([0]), high=np.array([100]))
        self.state = 38 + random.randint(-1, 3)
        self.shower_length = 60

    def step(self, action):
        self.state += action - 1
        self.shower_length -= 1
        if self.state >= 37 and self.state <= 39:
            reward = 1
        else:
            reward = -1
        if self.shower_length <= 0:
            done = True
        else:
            done = False
        self.state += random.randint(-1, 1)
        info = {}
        return self.state, reward, done, info

    def render(self):
        pass

    def reset(self):
        self.state = 38 + random.randint(-3, 3)
        self.shower_length = 60
        return self.state


Policy = Callable[[np.ndarray, dict[str, Any]], Any]


def play(env: gym.Env, policy: Policy, episodes: int, seed: int) -> np.ndarray:
    """Scores of ``policy(obs, info) -> action`` over ``episodes`` episodes (Gymnasium API)."""
    scores = []
    obs, info = env.reset(seed=seed)
    for _ in range(episodes):
        score, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(int(policy(obs, info)))
            score += float(reward)
            done = terminated or truncated
        scores.append(score)
        obs, info = env.reset()
    return np.array(scores)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Tutorial 000 with renshu's native API.")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="training steps")
    parser.add_argument("--episodes", type=int, default=100, help="test episodes per controller")
    parser.add_argument("--seed", type=int, default=0, help="seeds the envs and the agent")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for plots, GIF and agent")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # tiny networks: one thread is fastest, above all on a busy machine
    random.seed(args.seed)  # the tutorial's ShowEnv draws its noise from Python's random
    test_seed = 1_000 + args.seed  # every controller is tested on the same episodes

    # -- 1. The environment: renshu's built-in Shower, and the tutorial's class ------------------
    env = renshu.make("shower")  # = gymnasium.make("renshu/Shower-v0")
    print(env.observation_space, env.action_space)
    # check_env explains what is wrong with an env; the built-in one is clean. The tutorial's
    # class gets warnings for its old API (renshu adapts it) and an error: its temperature
    # leaves Box(0, 100). DQN trains through that one; renshu's Shower clips to the box.
    renshu.check_env(env)
    try:
        renshu.check_env(ShowEnv())
    except renshu.EnvCheckError as error:
        print(error)
    legacy = renshu.make(ShowEnv())  # the old API adapted to Gymnasium's (with one warning)

    # -- 2. Play at random, like the tutorial's 25-episode loop (Gymnasium's 5-tuple) ------------
    env.action_space.seed(args.seed)
    random_scores = []
    for episode in range(1, 26):
        env.reset(seed=args.seed if episode == 1 else None)
        done, score = False, 0.0
        while not done:
            action = env.action_space.sample()
            _obs, reward, terminated, truncated, _info = env.step(action)
            score += reward
            done = terminated or truncated
        print(f"Episode:{episode} Score:{score:+.0f}")
        random_scores.append(score)
    print(f"random actions: mean score {np.mean(random_scores):+.1f} over 25 episodes")

    # -- 3. The agent: the tutorial's settings as options ----------------------------------------
    # renshu's own network scales the temperature from Box(0, 100) to [-1, 1] by itself. The
    # tuned preset is the other way to choose settings:
    #   from renshu import presets
    #   agent = renshu.DQN("shower", seed=0, **presets.load("shower").config)
    agent = renshu.DQN(
        "shower",
        seed=args.seed,
        policy="boltzmann",  # BoltzmannQPolicy: softmax over the Q-values
        target_update=1e-2,  # a float < 1: soft update after each gradient step (keras-rl's)
        warmup_steps=10,  # nb_steps_warmup
        buffer_size=50_000,  # SequentialMemory(limit=50000)
        net=[24, 24],  # Dense(24) - Dense(24) - Dense(3)
        learning_rate=1e-3,  # Adam(lr=1e-3)
        batch_size=32,  # DQNAgent's batch_size
        double=False,  # keras-rl2's enable_double_dqn=False
        n_step=1,  # keras-rl's one-step target
    )
    agent.summary()

    # -- 4. Train, with a greedy evaluation every twelfth of the run -----------------------------
    evaluate = renshu.Evaluate(every=max(args.steps // 12, 1), episodes=10)
    started = time.perf_counter()
    history = agent.fit(steps=args.steps, callbacks=[evaluate])
    train_seconds = time.perf_counter() - started
    print(f"trained {args.steps:,} steps in {train_seconds:.1f}s")

    fig = learning_curve(
        history.history["nb_steps"],
        history.history["episode_reward"],
        title="Shower: training episodes (Boltzmann exploration) and greedy tests",
    )
    ax = fig.axes[0]
    if evaluate.results:
        steps, means, _ = zip(*evaluate.results, strict=True)
        ax.plot(steps, means, "o-", color="C3", label="greedy test (mean of 10)")
    ax.axhline(59.1, color="C2", linestyle="--", linewidth=1, label="optimum, about +59")
    ax.legend(frameon=False, loc="lower right")
    curve_path = save_figure(fig, args.out / "learning_curve.png")

    # -- 5. Test: the agent against the scripted controllers, on the same episodes -------------
    scores = agent.test(episodes=args.episodes, seed=test_seed)
    results = {
        "DQN agent": np.array(scores.history["episode_reward"]),
        "DQN agent on the tutorial's ShowEnv": np.array(
            agent.test(episodes=args.episodes, env=legacy, seed=test_seed).history["episode_reward"]
        ),
        "move toward 38 (scripted)": play(env, scripted_policy, args.episodes, test_seed),
        "always hold": play(env, hold_policy, args.episodes, test_seed),
        "random": play(env, lambda obs, info: env.action_space.sample(), args.episodes, test_seed),
    }
    print(f"\nmean score over {args.episodes} test episodes (60 is a perfect shower):")
    for name, values in results.items():
        print(f"  {name:38s} {values.mean():+7.2f} ± {values.std():.2f}")

    # -- 6. The tutorial's plot: the temperature of 10 test episodes, 37-39 shaded -----------------
    logger = renshu.EpisodeLogger()
    agent.test(episodes=10, callbacks=[logger], seed=test_seed)
    fig = plot_observations(
        logger.observations,
        band=(37, 39),
        ylabel="temperature",
        title="Shower: the temperature in 10 greedy test episodes",
    )
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    ax.set_ylim(min(low, 30), max(high, 46))  # room around the band, to see where it lies
    observations_path = save_figure(fig, args.out / "observations.png")

    # -- 7. Save, load, and check the loaded agent acts the same ----------------------------------
    saved = agent.save(args.out / "agent", overwrite=True)  # safetensors + JSON, no pickle
    loaded = renshu.load(saved)
    temperatures = np.arange(20, 60, dtype=np.float32)[:, None]
    same = bool(np.array_equal(agent.act(temperatures), loaded.act(temperatures)))
    print(f"saved to {saved}; the loaded agent acts the same: {same}")

    # -- 8. A GIF of the thermometer during one greedy episode of the loaded agent ---------------
    render_env = renshu.make("shower", render_mode="rgb_array")
    frames = record_episode(loaded, render_env, seed=test_seed)
    gif_path = save_gif(frames, args.out / "shower.gif", fps=2 * render_fps(render_env))

    return {
        "steps": args.steps,
        "train_seconds": train_seconds,
        "scores": {name: float(values.mean()) for name, values in results.items()},
        "evaluations": evaluate.results,
        "loaded_acts_the_same": same,
        "files": {
            "learning_curve": curve_path,
            "observations": observations_path,
            "gif": gif_path,
            "agent": saved,
        },
    }


if __name__ == "__main__":
    main()

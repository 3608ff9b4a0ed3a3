"""Tutorial 001, part 1: catch falling balls on an 8x8 board with a small fully connected net.

The tutorial ported a TensorFlow DQN to Keras: the 8x8 screen flattened into one hidden layer,
a bar on the bottom row that moves left, right or stays, +1 for a caught ball, -1 and game over
for a missed one, a new ball every 4 frames. It added the pieces the simple version lacked: a
target network, error clipping (the Huber loss) and epsilon annealed from 1. In renshu those
are options of ``renshu.DQN``; the ``catch`` preset holds settings that learn the game in about
a minute on a laptop.

    python examples/catch.py                   # the preset's budget, well under a minute
    python examples/catch.py --steps 2000      # a quick look

Writes ``learning_curve.png``, ``catch.gif`` and the saved agent ``agent/`` into ``--out``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch

import renshu
from renshu import presets
from renshu.envs.catch import scripted_policy
from renshu.plots import learning_curve, save_figure
from renshu.video import record_episode, render_fps, save_gif

OUT = Path(__file__).resolve().parent / "output" / "catch"

Policy = Callable[[np.ndarray, dict[str, Any]], Any]


def play(env: gymnasium.Env, policy: Policy, episodes: int, seed: int) -> np.ndarray:
    """Scores of ``policy(obs, info) -> action`` over ``episodes`` episodes."""
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


def add_reference_lines(ax: Any, means: dict[str, float]) -> None:
    """Horizontal lines at the test means of the controllers, added to the plot's legend."""
    legend = ax.get_legend()
    handles = list(legend.legend_handles) if legend else []
    labels = [text.get_text() for text in legend.get_texts()] if legend else []
    styles = [("C3", "--"), ("C2", ":"), ("C7", "-."), ("C4", (0, (5, 1, 1, 1)))]
    for (name, mean), (colour, style) in zip(means.items(), styles, strict=False):
        handles.append(ax.axhline(mean, color=colour, linestyle=style, linewidth=1.6))
        labels.append(f"{name}, test mean {mean:+.1f}")
    ax.legend(handles, labels, frameon=False, loc="upper left", fontsize="small")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    preset = presets.load("catch")  # steps, test episodes and DQN options, tuned for this game
    parser = argparse.ArgumentParser(description="Tutorial 001's 8x8 catch game with an MLP.")
    parser.add_argument("--steps", type=int, default=preset.steps, help="training steps")
    parser.add_argument(
        "--episodes", type=int, default=preset.test_episodes, help="test episodes per controller"
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the envs and the agent")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for plot, GIF and agent")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # small networks: one thread is fastest, above all on a busy machine
    test_seed = 1_000 + args.seed  # every controller is tested on the same episodes

    # -- 1. The game: an 8x8 picture (uint8), 3 actions (0 stay, 1 left, 2 right) ---------------
    env = renshu.make("catch")
    print(env.observation_space, env.action_space)
    text_env = renshu.make("catch", render_mode="ansi")
    text_env.reset(seed=args.seed)
    for _ in range(6):
        text_env.step(0)
    print(text_env.render())  # o: a ball, ===: the bar

    # -- 2. The agent: the preset's options (Double DQN, a target network copied every 500 steps,
    # the Huber loss, epsilon from 1 to 0.02). The network is renshu's default MLP for a small
    # picture: flatten, 64, 64, 3 (the tutorial's Keras model was flatten, 32, 3: net=[32]).
    print("preset:", preset.config)
    agent = renshu.DQN("catch", seed=args.seed, **preset.config)
    agent.summary()

    # -- 3. Train --------------------------------------------------------------------------------
    started = time.perf_counter()
    history = agent.fit(steps=args.steps)
    train_seconds = time.perf_counter() - started
    episodes = len(history.history["episode_reward"])
    print(f"trained {args.steps:,} steps ({episodes} episodes) in {train_seconds:.1f}s")

    # -- 4. Test: the greedy agent against the scripted controller and random actions ----------
    env.action_space.seed(test_seed)  # the random controller's draws
    results = {
        "DQN agent": np.array(
            agent.test(episodes=args.episodes, seed=test_seed).history["episode_reward"]
        ),
        "scripted controller": play(env, scripted_policy, args.episodes, test_seed),
        "random actions": play(
            env, lambda obs, info: env.action_space.sample(), args.episodes, test_seed
        ),
    }
    # (The score is +1 per caught ball and -1 for the miss that ends the game.)
    print(f"\nscore over {args.episodes} test episodes:")
    for name, values in results.items():
        print(f"  {name:20s} mean {values.mean():+6.2f}  median {np.median(values):+5.1f}")

    # -- 5. The learning curve, with the test means of the other controllers for scale ---------
    fig = learning_curve(
        history.history["nb_steps"],
        history.history["episode_reward"],
        title="Catch 8x8: training episodes (epsilon-greedy)",
    )
    add_reference_lines(fig.axes[0], {name: values.mean() for name, values in results.items()})
    curve_path = save_figure(fig, args.out / "learning_curve.png")

    # -- 6. Save, load, and check the loaded agent acts the same ----------------------------------
    saved = agent.save(args.out / "agent", overwrite=True)  # safetensors + JSON, no pickle
    loaded = renshu.load(saved)
    pictures = np.stack([env.observation_space.sample() for _ in range(100)])
    same = bool(np.array_equal(agent.act(pictures), loaded.act(pictures)))
    print(f"saved to {saved}; the loaded agent acts the same: {same}")

    # -- 7. A GIF of one greedy episode (201 frames at most: a whole 200-step episode) ----------
    render_env = renshu.make("catch", render_mode="rgb_array")
    frames = record_episode(loaded, render_env, seed=test_seed, max_frames=201)
    gif_path = save_gif(frames, args.out / "catch.gif", fps=render_fps(render_env))

    return {
        "steps": args.steps,
        "train_seconds": train_seconds,
        "scores": {name: float(values.mean()) for name, values in results.items()},
        "medians": {name: float(np.median(values)) for name, values in results.items()},
        "loaded_acts_the_same": same,
        "files": {"learning_curve": curve_path, "gif": gif_path, "agent": saved},
    }


if __name__ == "__main__":
    main()

"""Tutorial 001, part 2: catch on a 16x16 board with convolutional layers and 4 frames.

The tutorial grew the board to 16x16 and put convolutional layers in front of the fully
connected one. It also swapped plain RMSprop for RMSpropGraves (the optimizer of the DQN
papers, missing from Keras and TensorFlow) and compared their loss curves. Here the ``catch16``
preset sets the CNN, a window of the last 4 frames (so the net sees which way balls move) and 4
environments stepped together; ``optimizer="rmsprop"`` and ``optimizer="rmsprop_graves"`` are
one option each.

    python examples/catch16.py                       # the preset's budget + 2 x 20,000 steps
                                                     # for the optimizer comparison (minutes)
    python examples/catch16.py --steps 5000 --compare-steps 3000     # a quick look
    python examples/catch16.py --agent runs/catch16-dqn-0/agent      # test an agent trained
                                                                     # by `renshu train catch16`

Writes ``learning_curve.png``, ``optimizers.png``, ``catch16.gif`` and the saved agent
``agent/`` into ``--out``.
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
from renshu.plots import learning_curve, plot_metric, save_figure
from renshu.video import record_episode, render_fps, save_gif

OUT = Path(__file__).resolve().parent / "output" / "catch16"
COMPARE_STEPS = 20_000  # training steps of each run in the optimizer comparison

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
    preset = presets.load("catch16")
    parser = argparse.ArgumentParser(description="Tutorial 001's 16x16 catch with a CNN.")
    parser.add_argument("--steps", type=int, default=preset.steps, help="training steps")
    parser.add_argument(
        "--episodes", type=int, default=preset.test_episodes, help="test episodes per controller"
    )
    parser.add_argument(
        "--compare-steps",
        type=int,
        default=COMPARE_STEPS,
        help="steps of each optimizer run (0: skip the comparison)",
    )
    parser.add_argument("--agent", type=Path, help="test this saved agent instead of training")
    parser.add_argument("--seed", type=int, default=0, help="seeds the envs and the agents")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for plots, GIF and agent")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # on a small, busy machine one thread is the fastest
    test_seed = 1_000 + args.seed  # every controller is tested on the same episodes
    files: dict[str, Path] = {}

    # -- 1. The game: a 16x16 picture, a new ball every 8 frames -----------------------------------
    env = renshu.make("catch16")  # = gymnasium.make("renshu/Catch-v0", size=16)
    print(env.observation_space, env.action_space)

    # -- 2. The agent: the preset's CNN sees the last 4 frames stacked (window=4); 4 envs --------
    print("preset:", preset.config)
    history = None
    if args.agent is not None:  # trained already, e.g. by `renshu train catch16`
        agent = renshu.load(args.agent)
        agent.summary()
        train_seconds = 0.0
    else:
        agent = renshu.DQN("catch16", seed=args.seed, **preset.config)
        agent.summary()

        # -- 3. Train ------------------------------------------------------------------------
        started = time.perf_counter()
        history = agent.fit(steps=args.steps)
        train_seconds = time.perf_counter() - started
        print(f"trained {args.steps:,} steps in {train_seconds:.1f}s")

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
    # (The score is +1 per caught ball and -1 for the miss that ends the game. Two balls can
    # land too far apart for the bar to reach both, so no controller catches them all.)
    print(f"\nscore over {args.episodes} test episodes:")
    for name, values in results.items():
        print(f"  {name:20s} mean {values.mean():+6.2f}  median {np.median(values):+5.1f}")

    # -- 5. The learning curve, with the test means of the controllers for scale --------------
    if history is not None:
        fig = learning_curve(
            history.history["nb_steps"],
            history.history["episode_reward"],
            title="Catch 16x16: training episodes (epsilon-greedy)",
        )
        add_reference_lines(fig.axes[0], {k: float(v.mean()) for k, v in results.items()})
        files["learning_curve"] = save_figure(fig, args.out / "learning_curve.png")

    # -- 6. Save, load, and check the loaded agent acts the same ----------------------------------
    saved = files["agent"] = agent.save(args.out / "agent", overwrite=True)  # no pickle
    loaded = renshu.load(saved)
    windows = np.stack([env.observation_space.sample() for _ in range(4 * 50)]).reshape(
        50, 4, 16, 16
    )  # 50 random observations of 4 stacked frames each
    same = bool(np.array_equal(agent.act(windows), loaded.act(windows)))
    print(f"saved to {saved}; the loaded agent acts the same: {same}")

    # -- 7. A GIF of one greedy episode (201 frames at most: a whole 200-step episode) ----------
    render_env = renshu.make("catch16", render_mode="rgb_array")
    frames = record_episode(loaded, render_env, seed=test_seed, max_frames=201)
    files["gif"] = save_gif(frames, args.out / "catch16.gif", fps=render_fps(render_env))

    # -- 8. The tutorial's optimizer comparison: RMSprop vs RMSpropGraves, same everything else --
    # Two short runs; the TD loss is logged (as losses/td_loss in History.metrics) every
    # log_every steps. Warm-up is kept to a quarter of a run, so a short run still trains.
    comparison: dict[str, dict[str, Any]] = {}
    if args.compare_steps > 0:
        losses = {}
        warmup = min(preset.config.get("warmup_steps", 1_000), args.compare_steps // 4)
        for optimizer, label in (("rmsprop", "RMSprop"), ("rmsprop_graves", "RMSpropGraves")):
            options = {**preset.config, "optimizer": optimizer, "warmup_steps": warmup}
            run = renshu.DQN("catch16", seed=args.seed, **options)
            started = time.perf_counter()
            metrics = run.fit(args.compare_steps, log_every=max(args.compare_steps // 50, 10))
            seconds = time.perf_counter() - started
            test = run.test(episodes=args.episodes, seed=test_seed).history["episode_reward"]
            comparison[label] = {"test_mean": float(np.mean(test)), "seconds": seconds}
            print(f"{label:14s} {args.compare_steps:,} steps: test mean {np.mean(test):+.2f}")
            logged = sorted(s for s, m in metrics.metrics.items() if "losses/td_loss" in m)
            losses[f"{label} (then a test mean of {np.mean(test):+.1f})"] = (
                logged,
                [metrics.metrics[s]["losses/td_loss"] for s in logged],
            )
        fig = plot_metric(
            losses,
            metric="losses/td_loss",
            title=f"Catch 16x16: TD loss, learning rate {options['learning_rate']:g} for both",
        )
        files["optimizers"] = save_figure(fig, args.out / "optimizers.png")

    return {
        "steps": agent.num_steps,
        "train_seconds": train_seconds,
        "scores": {name: float(values.mean()) for name, values in results.items()},
        "medians": {name: float(np.median(values)) for name, values in results.items()},
        "comparison": comparison,
        "loaded_acts_the_same": same,
        "files": files,
    }


if __name__ == "__main__":
    main()

"""Tutorial 001, part 3: fly through a scrolling cave, seeing the last 4 frames through a CNN.

The tutorial's last game: hold the button to rise, let go to fall, and do not touch the cave's
walls or the blocks inside it. Its agent saw the last 4 frames (48x48) through the same
convolutional network as the 16x16 catch game; it learned to stay off the walls but not to
dodge the blocks, so its scores stayed low. Here the ``cave`` preset trains renshu's CNN on 4
stacked frames with 8 environments stepped together, and the agent is compared with three
controllers: random buttons, one that follows the middle of the gap (blind to blocks, the
tutorial agent's level) and a look-ahead planner that survives every episode.

    python examples/cave.py                       # the preset's budget (several minutes)
    python examples/cave.py --steps 20000         # a shorter run
    python examples/cave.py --agent runs/cave-dqn-0/agent   # test an agent trained by
                                                            # `renshu train cave`

The score is the number of frames survived (an episode is cut at 2,000). Writes
``learning_curve.png``, ``cave.gif`` and the saved agent ``agent/`` into ``--out``.
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
from renshu.envs.cave import gap_centre_policy, scripted_policy
from renshu.plots import learning_curve, save_figure
from renshu.video import record_episode, render_fps, save_gif

OUT = Path(__file__).resolve().parent / "output" / "cave"
GIF_FRAMES = 200  # 10 seconds at the env's 20 frames per second, a few hundred KB

Policy = Callable[[np.ndarray, dict[str, Any]], Any]


def play(env: gymnasium.Env, policy: Policy, episodes: int, seed: int) -> np.ndarray:
    """Scores of ``policy(obs, info) -> action`` over ``episodes`` episodes.

    The cave's controllers read ``info`` (the player's row and speed), which Gymnasium's
    ``reset`` and ``step`` hand back with every observation.
    """
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


def add_reference_lines(ax: Any, medians: dict[str, float]) -> None:
    """Horizontal lines at the test medians of the controllers, added to the plot's legend."""
    legend = ax.get_legend()
    handles = list(legend.legend_handles) if legend else []
    labels = [text.get_text() for text in legend.get_texts()] if legend else []
    styles = [("C3", "--"), ("C2", ":"), ("C7", "-."), ("C4", (0, (5, 1, 1, 1)))]
    for (name, median), (colour, style) in zip(medians.items(), styles, strict=False):
        handles.append(ax.axhline(median, color=colour, linestyle=style, linewidth=1.6))
        labels.append(f"{name}, test median {median:.0f}")
    ax.legend(handles, labels, frameon=False, loc="upper left", fontsize="small")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    preset = presets.load("cave")
    parser = argparse.ArgumentParser(description="Tutorial 001's Cave game with a CNN.")
    parser.add_argument("--steps", type=int, default=preset.steps, help="training steps")
    parser.add_argument(
        "--episodes", type=int, default=preset.test_episodes, help="test episodes per controller"
    )
    parser.add_argument("--agent", type=Path, help="test this saved agent instead of training")
    parser.add_argument("--seed", type=int, default=0, help="seeds the envs and the agent")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for plot, GIF and agent")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # on a small, busy machine one thread is the fastest
    test_seed = 1_000 + args.seed  # every controller is tested on the same episodes
    files: dict[str, Path] = {}

    # -- 1. The game: a 48x48 frame; action 1 holds the button (up), 0 lets go (down) ----------
    env = renshu.make("cave")
    obs, info = env.reset(seed=args.seed)
    print(env.observation_space, env.action_space, "info:", info)
    print("pixel values:", np.unique(obs), "(empty 0, wall 100, block 180, player 255)")
    # One frame shows where the player is but not how fast it moves: hence 4 frames (window=4).

    # -- 2. The agent: the preset's CNN on the last 4 frames, 8 envs stepped together ----------
    print("preset:", preset.config)
    history = None
    if args.agent is not None:  # trained already, e.g. by `renshu train cave`
        agent = renshu.load(args.agent)
        agent.summary()
        train_seconds = 0.0
    else:
        agent = renshu.DQN("cave", seed=args.seed, **preset.config)
        agent.summary()

        # -- 3. Train ------------------------------------------------------------------------
        started = time.perf_counter()
        history = agent.fit(steps=args.steps)
        train_seconds = time.perf_counter() - started
        print(f"trained {args.steps:,} steps in {train_seconds:.1f}s")

    # -- 4. Test: frames survived by the agent and by three controllers, same episodes ---------
    env.action_space.seed(test_seed)  # the random controller's draws
    results = {
        "DQN agent": np.array(
            agent.test(episodes=args.episodes, seed=test_seed).history["episode_reward"]
        ),
        "random buttons": play(
            env, lambda obs, info: env.action_space.sample(), args.episodes, test_seed
        ),
        "gap centre (blind to blocks)": play(env, gap_centre_policy, args.episodes, test_seed),
        "look-ahead planner": play(env, scripted_policy, args.episodes, test_seed),
    }
    print(f"\nframes survived over {args.episodes} test episodes (cut at 2,000):")
    for name, values in results.items():
        print(
            f"  {name:30s} median {np.median(values):6.0f}  mean {values.mean():7.1f}"
            f"  best {values.max():5.0f}"
        )

    # -- 5. The learning curve, with the test medians of the agent and the blind controllers ----
    if history is not None:
        fig = learning_curve(
            history.history["nb_steps"],
            history.history["episode_reward"],
            title="Cave: frames survived in training episodes (epsilon-greedy)",
        )
        shown = ("DQN agent", "gap centre (blind to blocks)", "random buttons")
        add_reference_lines(fig.axes[0], {k: float(np.median(results[k])) for k in shown})
        files["learning_curve"] = save_figure(fig, args.out / "learning_curve.png")

    # -- 6. Save, load, and check the loaded agent acts the same ----------------------------------
    saved = files["agent"] = agent.save(args.out / "agent", overwrite=True)  # no pickle
    loaded = renshu.load(saved)
    windows = np.stack([env.observation_space.sample() for _ in range(4 * 20)]).reshape(
        20, 4, 48, 48
    )  # 20 random observations of 4 stacked frames each
    same = bool(np.array_equal(agent.act(windows), loaded.act(windows)))
    print(f"saved to {saved}; the loaded agent acts the same: {same}")

    # -- 7. A GIF of the start of one greedy episode --------------------------------------------
    render_env = renshu.make("cave", render_mode="rgb_array")
    frames = record_episode(loaded, render_env, seed=test_seed, max_frames=GIF_FRAMES)
    files["gif"] = save_gif(frames, args.out / "cave.gif", fps=render_fps(render_env))

    return {
        "steps": agent.num_steps,
        "train_seconds": train_seconds,
        "medians": {name: float(np.median(values)) for name, values in results.items()},
        "scores": {name: float(values.mean()) for name, values in results.items()},
        "loaded_acts_the_same": same,
        "files": files,
    }


if __name__ == "__main__":
    main()

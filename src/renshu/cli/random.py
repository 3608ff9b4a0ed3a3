"""``renshu random``: the tutorial's random-agent loop."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.console import Console

from renshu.cli._text import (
    ENV_HELP,
    _add_env_kwargs,
    _env_kwargs,
    _num,
    _paragraph,
    _positive_int,
    _say,
)

if TYPE_CHECKING:
    from renshu.cli._text import Subparsers


def add_random_command(subparsers: Subparsers) -> None:
    """``renshu random ENV [--episodes N] [--seed S] [--render ansi]``."""
    parser = subparsers.add_parser(
        "random",
        help="play ENV with random actions and print each episode's score",
        description=_paragraph(
            "The tutorial's random-agent loop: every step takes action_space.sample(); one "
            "'Episode:N Score:S' line per episode, then the mean, std, min and max."
        ),
        epilog="example:\n  renshu random shower --episodes 25 --seed 0",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("env", metavar="ENV", help=ENV_HELP)
    parser.add_argument(
        "--episodes", type=_positive_int, default=25, help="episodes to play (default 25)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of resets and actions")
    parser.add_argument("--render", choices=("ansi", "human"), default=None, help="show every step")
    parser.add_argument(
        "--max-steps",
        type=_positive_int,
        default=None,
        help="end an episode after this many steps (default: when the env ends it)",
    )
    _add_env_kwargs(parser)
    parser.set_defaults(handler=run_random)


def run_random(args: argparse.Namespace, console: Console) -> int:
    """Play random episodes and print one score line each, then a summary."""
    import numpy as np

    from renshu.make import make

    env = make(
        args.env, **_env_kwargs(args), **({"render_mode": args.render} if args.render else {})
    )
    try:
        env.action_space.seed(args.seed)
        scores = [
            _random_episode(env, args, console, episode) for episode in range(1, args.episodes + 1)
        ]
    finally:
        env.close()
    values = np.asarray(scores, dtype=np.float64)
    _say(
        console,
        f"Summary: mean={values.mean():.2f} std={values.std():.2f} min={_num(values.min())} "
        f"max={_num(values.max())} episodes={len(scores)}",
    )
    return 0


def _random_episode(env: Any, args: argparse.Namespace, console: Console, episode: int) -> float:
    env.reset(seed=args.seed if episode == 1 else None)
    _show_frame(env, console)
    done, score, steps = False, 0.0, 0
    while not done:
        action = env.action_space.sample()
        _, reward, terminated, truncated, _ = env.step(action)
        _show_frame(env, console)
        score += float(reward)
        steps += 1
        done = terminated or truncated or steps == args.max_steps
    _say(console, f"Episode:{episode} Score:{_num(score)}")
    return score


def _show_frame(env: Any, console: Console) -> None:
    if env.render_mode == "ansi":
        frame = env.render()
        if frame is not None:
            _say(console, str(frame))

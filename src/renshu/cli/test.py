"""``renshu test``: play a trained agent greedily, print the scores, optionally a GIF."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console

from renshu.cli._text import (
    _add_env_kwargs,
    _env_kwargs,
    _natural_int,
    _num,
    _paragraph,
    _positive_int,
    _say,
)
from renshu.errors import RenshuError

if TYPE_CHECKING:
    from renshu.cli._text import Subparsers


def add_test_command(subparsers: Subparsers) -> None:
    """``renshu test RUN [--episodes N] [--gif [PATH]] [--render MODE] [--seed S]``."""
    parser = subparsers.add_parser(
        "test",
        help="play a trained agent greedily and print each episode's score",
        description=_paragraph(
            "Load RUN/agent (or the run's newest checkpoint, or a saved agent folder) and play "
            "greedily: one 'Episode:N Score:S' line per episode, then the mean and std."
        ),
        epilog=(
            "examples:\n"
            "  renshu test runs/catch-dqn-0 --episodes 10\n"
            "  renshu test runs/catch-dqn-0 --gif       writes runs/catch-dqn-0/videos/test-1.gif\n"
            "  renshu test runs/catch-dqn-0 --gif catch.gif --seed 3\n"
            "  renshu test runs/catch-dqn-0 --checkpoint 20000   the agent of checkpoints/20000\n"
            "  renshu test runs/shower-dqn-0 --episodes 1 --render ansi"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "run", metavar="RUN", help="a run folder (runs/catch-dqn-0) or a saved agent folder"
    )
    parser.add_argument(
        "--episodes",
        type=_positive_int,
        default=None,
        help="episodes to play (default: the run's test_episodes, or 10)",
    )
    parser.add_argument(
        "--gif",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help="record the first episode as a GIF (default path RUN/videos/test-<n>.gif)",
    )
    parser.add_argument("--render", choices=("human", "ansi"), default=None, help="show every step")
    parser.add_argument("--seed", type=int, default=None, help="seed of the first reset")
    parser.add_argument(
        "--max-steps",
        type=_positive_int,
        default=None,
        metavar="N",
        help="end an episode after N steps, as truncated (default: the env's own time limit, "
        "else 10000 with a warning when an episode reaches it)",
    )
    parser.add_argument(
        "--checkpoint",
        type=_natural_int,
        default=None,
        metavar="STEP",
        help="test RUN/checkpoints/STEP instead of RUN/agent (by default a damaged agent/ or "
        "newest checkpoint is skipped for the newest one that loads, with a warning)",
    )
    parser.add_argument("--device", default=None, help='"cpu", "cuda", ... (default: as saved)')
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="CPU threads for torch and BLAS while testing (default: the agent's threads "
        "option, 1)",
    )
    _add_env_kwargs(parser, "; laid over the run's own (from its config.yaml)")
    parser.add_argument(
        "--env",
        metavar="ENV",
        default=None,
        help="the environment to test on (default: the one saved); needed for a Python file or "
        "module env, which renshu does not import from saved files unless named here",
    )
    parser.add_argument(
        "--trust-env",
        action="store_true",
        help="import the Python file or module the saved files name as the env",
    )
    parser.set_defaults(handler=run_test)


def run_test(args: argparse.Namespace, console: Console) -> int:
    """Play greedily, print the scores, optionally write a GIF."""
    from pathlib import Path

    import numpy as np
    from gymnasium.error import DependencyNotInstalled

    from renshu import checkpoint
    from renshu.errors import ConfigError, RunFileError, os_error_message
    from renshu.make import make
    from renshu.runs import Run, rgb_array_env, test_until_signal
    from renshu.video import FrameRecorder, draw_score, render_fps, save_gif

    if args.gif is not None and args.render is not None:
        raise ConfigError(
            "--gif and --render cannot be combined (a GIF needs render_mode='rgb_array'). "
            "Run renshu test twice: once with --gif, once with --render."
        )
    path = Path(args.run)
    overrides: dict[str, Any] = {"device": args.device} if args.device else {}
    if args.threads is not None:
        overrides["threads"] = args.threads
    kwargs = _env_kwargs(args)
    if (path / "config.json").is_file():  # a saved agent folder
        if args.checkpoint is not None:
            raise ConfigError(
                f"{str(path)!r} is a saved agent folder; --checkpoint STEP chooses among a run "
                "folder's checkpoints. Pass the run folder (renshu test RUN --checkpoint STEP), "
                "or the checkpoint folder itself (RUN/checkpoints/STEP)."
            )
        agent = checkpoint.load(path, env=args.env, trust_env=args.trust_env, **overrides)
        run = _enclosing_run(path, env=args.env, trust_env=args.trust_env)
        env_spec = args.env or agent.env_spec
        if env_spec is None and agent._env_ref is not None:
            raise ConfigError(
                checkpoint.untrusted_env_message(agent._env_ref, where=repr(str(path)))
                + f" If you trust it, add --trust-env (renshu test {_shell(path)} --trust-env), "
                f"or name it: renshu test {_shell(path)} --env {shlex.quote(agent._env_ref)}."
            )
        if env_spec is None and run is not None and run._untrusted_env is None:
            env_spec = run.env  # an agent folder inside a run: the run names the env
        kwargs = {**(run.env_kwargs if run is not None else {}), **kwargs}
    else:
        run = Run.open(path, env=args.env, trust_env=args.trust_env)
        kwargs = run.settings["env_kwargs"] = {**run.env_kwargs, **kwargs}
        agent = run.load_agent(
            device=args.device, threads=args.threads, checkpoint_step=args.checkpoint
        )
        env_spec = run.env
    if env_spec is None:
        raise ConfigError(
            f"{str(path)!r} was trained on an environment object ({agent.env_name or 'unnamed'}), "
            "which saved files cannot record. Name it: renshu test "
            f"{_shell(path)} --env my_env.py:ClassName, or from Python: "
            "renshu.load(path, env=...).test()."
        )
    episodes = args.episodes or (int(run.settings["test_episodes"]) if run else 10)
    env = None
    printer = _episode_printer(lambda text: _say(console, text))  # each line as it ends
    callbacks: list[Any] = [printer]
    recorder = None
    try:
        if args.render is not None:
            env = make(env_spec, render_mode=args.render, **kwargs)
            if args.render == "ansi":
                callbacks.append(_ansi_printer(env, lambda text: _say(console, text)))
        elif args.gif is not None:
            env = rgb_array_env(env_spec, kwargs)  # the GIF was asked for: no render, exit 2
            recorder = FrameRecorder(env, max_frames=2_000, caption=draw_score(env), episodes=1)
            callbacks.append(recorder)
        elif kwargs or env_spec != agent.env_spec:
            env = make(env_spec, **kwargs)
        scores, stopped_by = test_until_signal(
            agent,
            episodes=episodes,
            env=env,
            seed=args.seed,
            callbacks=callbacks,
            progress=False,
            max_episode_steps=args.max_steps,
        )
    except DependencyNotInstalled as error:
        raise ConfigError(
            f"Rendering {env_spec!r} needs a package that is not installed: {error}."
        ) from None
    finally:
        if env is not None:
            env.close()
    if stopped_by is not None:  # Ctrl+C or SIGTERM: the episodes played, then stop
        from renshu.cli.main import Terminated

        if scores:
            _say(console, _summary(np.asarray(scores)) + f" (of {episodes})")
        raise KeyboardInterrupt if stopped_by == "SIGINT" else Terminated
    _say(console, _summary(np.asarray(scores, dtype=np.float64)))
    if recorder is not None:
        if not recorder.frames:
            raise ConfigError(
                f"{env_spec} returned no frames from render() with render_mode='rgb_array', so "
                "no GIF was written. render() must return a (height, width, 3) uint8 array in "
                "that mode."
            )
        if isinstance(args.gif, str):
            out = Path(args.gif)
        else:
            base = run.path if run is not None else path
            out = _numbered(base / "videos", "test", ".gif")
        try:
            save_gif(recorder.frames, out, fps=render_fps(env))
        except OSError as error:
            raise RunFileError(
                os_error_message(
                    error, "Writing the GIF", "Pass --gif PATH to write it somewhere writable"
                )
            ) from None
        _say(console, f"GIF: {out}")
    return 0


def _summary(scores: Any) -> str:
    return (
        f"Summary: mean={scores.mean():.2f} std={scores.std():.2f} min={_num(scores.min())} "
        f"max={_num(scores.max())} episodes={len(scores)}"
    )


def _episode_printer(write: Callable[[str], None]) -> Any:
    """A test callback that prints ``Episode:N Score:S`` as each episode ends (so an
    interrupted test still shows the ones it played)."""
    from renshu.callbacks import Callback

    class EpisodePrinter(Callback):
        def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
            write(f"Episode:{episode + 1} Score:{_num(logs['episode_reward'])}")

    return EpisodePrinter()


def _shell(path: Any) -> str:
    """``path`` absolute and quoted for the shell, for a command printed to be pasted."""
    return shlex.quote(str(path.absolute()))


def _enclosing_run(path: Any, *, env: Any = None, trust_env: bool = False) -> Any:
    """The run folder holding a saved-agent folder (RUN/agent, RUN/checkpoints/N), if any."""
    from renshu.runs import CONFIG_FILE, Run

    for parent in list(path.resolve().parents)[:2]:
        if (parent / CONFIG_FILE).is_file():
            try:
                return Run.open(parent, env=env, trust_env=trust_env)
            except RenshuError:
                return None
    return None


def _numbered(folder: Any, stem: str, suffix: str) -> Any:
    """``folder/stem-<n>suffix`` with the smallest n >= 1 not yet taken."""
    n = 1
    while (folder / f"{stem}-{n}{suffix}").exists():
        n += 1
    return folder / f"{stem}-{n}{suffix}"


def _ansi_printer(env: Any, write: Callable[[str], None]) -> Any:
    """A test callback that prints ``env.render()`` text after the reset and every step."""
    from renshu.callbacks import Callback

    class AnsiPrinter(Callback):
        def on_episode_begin(self, episode: int, logs: dict[str, Any]) -> None:
            self.show()

        def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
            self.show()

        def show(self) -> None:
            frame = env.render()
            if frame is not None:
                write(str(frame))

    return AnsiPrinter()

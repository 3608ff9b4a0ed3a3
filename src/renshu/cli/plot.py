"""``renshu plot``: one metric of one or more runs on one figure."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from rich.console import Console

from renshu.cli._text import (
    _paragraph,
    _positive_int,
    _say,
)
from renshu.errors import RenshuError

if TYPE_CHECKING:
    from renshu.cli._text import Subparsers


def add_plot_command(subparsers: Subparsers) -> None:
    """``renshu plot RUN [RUN ...] [--metric M] [--window W] [--out PATH]``."""
    parser = subparsers.add_parser(
        "plot",
        help="draw a metric of one or more runs on one figure",
        description=_paragraph(
            "Draw one column of each run's metrics.csv against the training step: the raw "
            "values faint, their rolling mean solid, one colour per run with a legend."
        ),
        epilog=(
            "examples:\n"
            "  renshu plot runs/catch-dqn-0              episode reward, with a rolling mean\n"
            "  renshu plot runs/rmsprop runs/graves --metric losses/td_loss\n"
            "  renshu plot runs/catch-dqn-* --window 50 --out catch.png\n"
            "\n"
            "metrics: charts/episode_reward, charts/episode_length, charts/SPS,\n"
            "eval/mean_reward, test/mean_reward, what the run's algorithm logs:\n"
            f"{_algorithm_metrics()}\n"
            "or any other column of metrics.csv."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", metavar="RUN", nargs="+", help="run folders")
    parser.add_argument(
        "--metric",
        default="charts/episode_reward",
        help="a metrics.csv column (default charts/episode_reward)",
    )
    parser.add_argument(
        "--window",
        type=_positive_int,
        default=None,
        help="rolling-mean window in points (default: about a tenth of them, at most 20)",
    )
    parser.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help="the PNG to write (default RUN/plots/<metric>.png for one run, "
        "compare-<metric>.png here for several)",
    )
    parser.set_defaults(handler=run_plot)


def _algorithm_metrics() -> str:
    """A paragraph per algorithm: ``  dqn: charts/epsilon, losses/td_loss, ...``."""
    import textwrap

    from renshu.agents import ALGORITHMS

    return "\n".join(
        textwrap.fill(
            f"{name}: {', '.join(a.metrics)}",
            width=90,
            initial_indent="  ",
            subsequent_indent="       ",
        )
        for name, a in ALGORITHMS.items()
    )


def run_plot(args: argparse.Namespace, console: Console) -> int:
    """Write the figure and print where it went."""
    from pathlib import Path

    from renshu.runs import plot_runs

    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", args.metric).strip("_") or "metric"
    if args.out is not None:
        out = Path(args.out)
    elif len(args.runs) == 1:
        out = Path(args.runs[0]) / "plots" / f"{slug}.png"
    else:
        out = Path(f"compare-{slug}.png")
    try:
        written = plot_runs(args.runs, metric=args.metric, window=args.window, out=out)
    except OSError as error:
        if isinstance(error, RenshuError):
            raise
        from renshu.errors import RunFileError, os_error_message

        raise RunFileError(
            os_error_message(
                error, "Writing the figure", "Pass --out PATH to write it somewhere writable"
            )
        ) from None
    _say(console, f"Wrote {written}")
    return 0

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
            "values faint, their rolling mean solid, one colour per run with a legend. Given "
            "groups of seeds (folders renshu train --seeds made), draw each group's seeds "
            "(rolling means, faint), their mean and its 95% bootstrap band, and print the "
            "statistics of their final greedy tests. Give runs or groups, not both."
        ),
        epilog=(
            "examples:\n"
            "  renshu plot runs/catch-dqn-0              episode reward, with a rolling mean\n"
            "  renshu plot runs/rmsprop runs/graves --metric losses/td_loss\n"
            "  renshu plot runs/catch-dqn-* --window 50 --out catch.png\n"
            "  renshu plot runs/catch-dqn-seeds-0-4      a group: GROUP/plots/learning_curves.png\n"
            "  renshu plot runs/catch-dqn-seeds-0-4 runs/catch-ppo-seeds-0-4   two groups' bands\n"
            "\n"
            "metrics: charts/episode_reward, charts/episode_length, charts/SPS,\n"
            "eval/mean_reward, test/mean_reward, what the run's algorithm logs:\n"
            f"{_algorithm_metrics()}\n"
            "or any other column of metrics.csv."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "runs", metavar="RUN", nargs="+", help="run folders, or group folders of seeds"
    )
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
        "GROUP/plots/learning_curves.png for one group, compare-<metric>.png here for several)",
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
    from renshu.runs.group import is_group

    groups = [path for path in args.runs if is_group(path)]
    if groups and len(groups) < len(args.runs):
        from renshu.errors import ConfigError

        runs = [path for path in args.runs if not is_group(path)]
        raise ConfigError(
            f"renshu plot draws runs or groups of seeds, not both: {groups[0]} is a group (it "
            f"holds group.yaml) and {runs[0]} is not. Plot the groups on their own (renshu "
            "plot GROUP ...), or name a group's runs (GROUP/RUN) to draw them as single runs."
        )
    if groups:
        return _plot_groups(args, console, slug)
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


def _plot_groups(args: argparse.Namespace, console: Console, slug: str) -> int:
    """Draw the groups' bands; print each group's statistics and where the figure went."""
    from pathlib import Path

    from renshu.runs.group import PLOT_FILE, Group, plot_groups

    groups = [Group.open(path) for path in args.runs]
    if args.out is not None:
        out = Path(args.out)
    elif len(groups) == 1:
        default = args.metric == "charts/episode_reward"
        out = groups[0].path / (PLOT_FILE if default else Path("plots") / f"{slug}.png")
    else:
        out = Path(f"compare-{slug}.png")
    try:
        written = plot_groups(groups, out=out, metric=args.metric, window=args.window)
    except OSError as error:
        if isinstance(error, RenshuError):
            raise
        from renshu.errors import RunFileError, os_error_message

        raise RunFileError(
            os_error_message(
                error, "Writing the figure", "Pass --out PATH to write it somewhere writable"
            )
        ) from None
    for group in groups:
        stats = group.statistics()
        if stats.scores:
            text = (
                f"mean {stats.mean:.2f}, {stats.confidence:.0%} CI {stats.interval_text()}, "
                f"IQM {stats.iqm:.2f} over {len(stats.scores)} seeds; {stats.threshold_text()}"
            )
        else:
            text = "no seed has a final greedy test yet"
        _say(console, f"{group.name}: {text}")
    _say(console, f"Wrote {written}")
    return 0

"""A sweep on Ray Tune, and the exact reproduction of its best trial by ``renshu train``.

Runs ``renshu tune CartPole-v1 --algo ppo --trials 8 --steps 20000 --search
learning_rate=loguniform:1e-4:1e-2`` (a local Ray with every CPU; ASHA on) in a temporary
folder and times it; then ``renshu train CartPole-v1 --algo ppo --config BEST --seed 0 --steps
20000`` and compares its final greedy test mean with the best trial's. Bars: the sweep finishes
and writes best.yaml; the reproduction's test mean equals the trial's exactly.

    python benchmarks/tune.py [--trials 8] [--steps 20000]
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import verdict, write_report

ENV = "CartPole-v1"
SEARCH = "learning_rate=loguniform:1e-4:1e-2"


def renshu(*args: str) -> tuple[str, float]:
    """Run ``renshu ARGS`` in a fresh process; its output and wall time."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "renshu", *args], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"renshu {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout, wall


def test_mean(run: Path) -> float:
    """The final greedy test mean in a run folder's metrics.csv."""
    import numpy as np

    from renshu.runs.metrics import read_metrics

    values = read_metrics(run)["test/mean_reward"]
    return float(values[~np.isnan(values)][-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        runs = Path(folder)
        sweep_args = ["tune", ENV, "--algo", "ppo", "--trials", str(args.trials)]
        sweep_args += ["--steps", str(args.steps), "--search", SEARCH, "--runs-dir", str(runs)]
        out, sweep_wall = renshu(*sweep_args)
        print(out)
        sweep = runs / f"tune-{ENV}-ppo"
        best_trial = int(re.search(r"Best: trial (\d+)", out).group(1))  # type: ignore[union-attr]
        statuses = {s: out.count(s) for s in ("finished", "stopped early (ASHA)", "failed")}
        trial_score = test_mean(sweep / f"trial-{best_trial:03d}")
        again = runs / "again"
        train_args = ["train", ENV, "--algo", "ppo", "--config", str(sweep / "best.yaml")]
        train_args += ["--seed", "0", "--steps", str(args.steps), "--runs-dir", str(again)]
        _, train_wall = renshu(*train_args, "--no-gif")
        reproduced = test_mean(next(again.iterdir()))
    same = trial_score == reproduced and not math.isnan(trial_score)
    report: dict[str, Any] = {
        "trials": args.trials,
        "steps": args.steps,
        "sweep_wall_s": round(sweep_wall, 1),
        "statuses": statuses,
        "best_trial": best_trial,
        "best_trial_test_mean": trial_score,
        "reproduced_test_mean": reproduced,
        "reproduction_wall_s": round(train_wall, 1),
    }
    markdown = (
        f"`renshu tune {ENV} --algo ppo --trials {args.trials} --steps {args.steps} --search "
        f"{SEARCH}`: {sweep_wall:.0f} s wall ({statuses['finished']} finished, "
        f"{statuses['stopped early (ASHA)']} stopped early by ASHA, {statuses['failed']} "
        f"failed). Best: trial {best_trial}, final greedy test mean {trial_score:.1f}; "
        f"`renshu train {ENV} --algo ppo --config best.yaml --seed 0 --steps {args.steps}` "
        f"({train_wall:.0f} s): {reproduced:.1f}. Same score exactly: {verdict(same)}."
    )
    write_report("tune", report, markdown)
    print(markdown)


if __name__ == "__main__":
    main()

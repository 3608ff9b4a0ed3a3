"""Many seeds on Ray against the same seeds one after another.

Times, as a user runs them, the whole command (start-up, Ray, training, tests, plots)::

    parallel:    renshu train CartPole-v1 --algo ppo --seeds 0-4 --steps 50000
    sequential:  renshu train CartPole-v1 --algo ppo --seed S --steps 50000   for S in 0..4

each in a fresh process, the two taking turns (the order flips every repeat), with torch and
BLAS pinned to 1 thread per process (OMP_NUM_THREADS=1 and friends; renshu's ``threads`` option
is 1 by default, and each seed's Ray task asks for 1 CPU). The load average is recorded before
and after each measurement, since other work on the machine slows both. The bar: the parallel
command takes less than 1.5x the time of the sequential seeds, prints the confidence interval
and writes the group plot.

    python benchmarks/seeds.py                  # 2 repeats
    python benchmarks/seeds.py --repeats 3 --steps 50000

Writes ``benchmarks/results/seeds.json`` and ``benchmarks/results/seeds.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
BAR = 1.5
"""The parallel command must take less than this times the sequential seeds' time."""


def renshu(*args: str, cwd: Path) -> tuple[float, str, int]:
    """Run ``renshu ARGS`` in a fresh process; (wall seconds, its output, exit code)."""
    env = {**os.environ, "COLUMNS": "160", "PYTHONWARNINGS": "ignore"}
    env.update({var: "1" for var in THREAD_VARS})
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "renshu", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return time.perf_counter() - started, done.stdout + done.stderr, done.returncode


def load() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def parallel(env: str, algo: str, seeds: list[int], steps: int, cwd: Path) -> dict[str, Any]:
    spec = f"{seeds[0]}-{seeds[-1]}"
    before = load()
    wall, out, code = renshu(
        "train", env, "--algo", algo, "--seeds", spec, "--steps", str(steps), cwd=cwd
    )
    if code != 0:
        raise SystemExit(f"renshu train --seeds failed ({code}):\n{out}")
    text = " ".join(out.split())
    interval = re.search(r"95% CI of the mean (\[[^\]]+\])", text)
    iqm = re.search(r"IQM (\S+)", text)
    mean = re.search(r"mean (\S+) \(", text)
    threshold = re.search(r"threshold (.+?) wall time", text)
    plot = re.search(r"Plot: (\S+)", text)
    return {
        "seconds": wall,
        "load_before": before,
        "load_after": load(),
        "mean": float(mean.group(1)) if mean else None,
        "interval": interval.group(1) if interval else None,
        "iqm": float(iqm.group(1)) if iqm else None,
        "threshold": threshold.group(1) if threshold else None,
        "plot_written": bool(plot and Path(plot.group(1)).is_file()),
    }


def sequential(env: str, algo: str, seeds: list[int], steps: int, cwd: Path) -> dict[str, Any]:
    before = load()
    per_seed = []
    for seed in seeds:
        wall, out, code = renshu(
            "train", env, "--algo", algo, "--seed", str(seed), "--steps", str(steps), cwd=cwd
        )
        if code != 0:
            raise SystemExit(f"renshu train --seed {seed} failed ({code}):\n{out}")
        per_seed.append(wall)
    return {
        "seconds": sum(per_seed),
        "per_seed": per_seed,
        "load_before": before,
        "load_after": load(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--algo", default="ppo")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    work = Path(tempfile.mkdtemp(prefix="renshu-seeds-bench-"))
    repeats = []
    try:
        for repeat in range(args.repeats):
            order = ["sequential", "parallel"] if repeat % 2 == 0 else ["parallel", "sequential"]
            row: dict[str, Any] = {"order": order}
            for kind in order:
                measure = parallel if kind == "parallel" else sequential
                row[kind] = measure(args.env, args.algo, seeds, args.steps, work)
                print(f"repeat {repeat}: {kind} {row[kind]['seconds']:.1f} s", flush=True)
            row["ratio"] = row["parallel"]["seconds"] / row["sequential"]["seconds"]
            repeats.append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratios = [r["ratio"] for r in repeats]
    par = statistics.median(r["parallel"]["seconds"] for r in repeats)
    seq = statistics.median(r["sequential"]["seconds"] for r in repeats)
    last = repeats[-1]["parallel"]
    met = (
        par / seq < BAR
        and all(r["parallel"]["interval"] for r in repeats)
        and all(r["parallel"]["plot_written"] for r in repeats)
    )
    result = {
        "command": f"renshu train {args.env} --algo {args.algo} --seeds 0-{seeds[-1]} "
        f"--steps {args.steps}",
        "seeds": seeds,
        "steps": args.steps,
        "repeats": repeats,
        "median_parallel_seconds": par,
        "median_sequential_seconds": seq,
        "ratio_of_medians": par / seq,
        "bar_ratio": BAR,
        "met": met,
        "bar": {
            "text": f"--seeds 0-{seeds[-1]} on Ray < {BAR}x the seeds one after another, "
            "interval printed, group plot written",
            "value": par / seq,
            "met": met,
        },
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "threads": "OMP/MKL/OPENBLAS_NUM_THREADS=1, renshu threads=1, 1 CPU per Ray task",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "seeds.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"`{result['command']}` against the {len(seeds)} seeds one after another (`renshu train "
        f"{args.env} --algo {args.algo} --seed S --steps {args.steps}`), each a fresh process, "
        f"taking turns; whole commands (start-up, Ray, training, tests, plots); "
        f"{os.cpu_count()} CPUs shared with other work (load average, 1 min, before/after).",
        "",
        "| repeat | sequential (s) | parallel on Ray (s) | parallel / sequential "
        "| load seq | load par |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for number, r in enumerate(repeats):
        s, p = r["sequential"], r["parallel"]
        lines.append(
            f"| {number} | {s['seconds']:.1f} | {p['seconds']:.1f} | {r['ratio']:.2f}x | "
            f"{s['load_before']}/{s['load_after']} | {p['load_before']}/{p['load_after']} |"
        )
    lines += [
        "",
        f"Median: sequential {seq:.1f} s, parallel {par:.1f} s, ratio **{par / seq:.2f}x** "
        f"(run by run: {', '.join(f'{x:.2f}x' for x in ratios)}). Bar < {BAR}x with the "
        f"interval printed and the group plot written: **{'met' if met else 'not met'}**.",
        f"Last parallel run: mean {last['mean']}, 95% CI {last['interval']}, IQM {last['iqm']}, "
        f"threshold: {last['threshold']}.",
    ]
    (RESULTS / "seeds.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

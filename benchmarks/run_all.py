"""Run every peer benchmark (renshu against Stable-Baselines3) and write BENCHMARKS.md.

    pip install -e '.[bench]'
    python benchmarks/run_all.py            # about 2 hours on a 2-core laptop (LunarLander: 1 h)
    python benchmarks/run_all.py --only overhead ppo   # the others keep their last results
    python benchmarks/run_all.py --quick    # fewer repeats and steps, a few minutes

Each benchmark also runs alone (``python benchmarks/overhead.py``, ...) and writes
``benchmarks/results/<name>.json``, ``.md`` and ``.png``; this script runs them in turn and
assembles their Markdown into ``BENCHMARKS.md`` at the repository root.
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path
from typing import Any

import cave
import learning_bars
import lunarlander
import overhead
import pixels
import ppo
import profile_step
import recurrent_ppo
import time_to_solve
from _common import RESULTS, THREAD_VARS, THREADS, require_sb3, system_info, verdict

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "pip install -e '.[bench]' && python benchmarks/run_all.py"

SECTIONS: dict[str, tuple[str, Any, list[str], list[str]]] = {
    # name: (title, module, arguments, --quick arguments)
    "overhead": ("Overhead: one gradient step per env step", overhead, [], ["--repeats", "3"]),
    "time_to_solve": (
        "Time to solve CartPole-v1",
        time_to_solve,
        [],
        ["--seeds", "3"],
    ),
    "learning_bars": (
        "Shower and Catch to their learning bars",
        learning_bars,
        [],
        ["--seeds", "3"],
    ),
    "pixels": ("Pixels: CNN with a 4-frame window", pixels, [], ["--repeats", "1"]),
    "ppo": (
        "PPO: CartPole-v1 with the RL Zoo's tuned settings, and batched Catch",
        ppo,
        [],
        ["--seeds", "2", "--steps", "20000", "--catch-steps", "20000"],
    ),
    "lunarlander": (
        "LunarLander-v3 with the RL Zoo's tuned DQN settings",
        lunarlander,
        [],
        ["--seeds", "1", "--steps", "20000", "--episodes", "10"],
    ),
    "profile_step": ("Where the time goes", profile_step, [], ["--repeats", "1"]),
    "recurrent_ppo": (
        "Memory: recurrent PPO against sb3-contrib's RecurrentPPO",
        recurrent_ppo,
        [],
        ["--repeats", "1", "--steps", "5000"],
    ),
    "cave": (
        "Cave: what ends the episodes",
        cave,
        [],
        ["--rows", "random", "gap_centre", "scripted"],  # the agents keep their stored rows
    ),
}


def bars_of(name: str, report: dict[str, Any]) -> list[dict[str, Any]]:
    if "bar" in report:
        return [report["bar"]]
    return list(report.get("bars", {}).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument(
        "--only",
        nargs="*",
        choices=list(SECTIONS),
        default=list(SECTIONS),
        help="sections to run (the others keep their last results; none: only write the file)",
    )
    args = parser.parse_args()
    require_sb3()
    started = time.perf_counter()
    reports: dict[str, dict[str, Any]] = {}
    for name in args.only:
        _, module, argv, quick = SECTIONS[name]
        reports[name] = module.main(quick if args.quick else argv)
    minutes = (time.perf_counter() - started) / 60

    info = system_info()
    rows = []
    for name in SECTIONS:
        path = RESULTS / f"{name}.json"
        if name not in reports and path.exists():  # keep earlier results of skipped sections
            import json

            reports[name] = json.loads(path.read_text())
    for name, report in reports.items():
        for bar in bars_of(name, report):
            value = bar["value"]
            shown = f"{value:.2f}" if isinstance(value, float) else str(value)
            rows.append(f"| {bar['text']} | {shown} | {verdict(bar['met'])} |")
    lines = [
        "# Benchmarks",
        "",
        "```",
        COMMAND,
        "```",
        "",
        f"renshu against Stable-Baselines3 {info.get('stable_baselines3')} (the `bench` extra), "
        "side by side in one invocation: every run is a fresh worker process from a one-worker "
        "process pool, the two libraries take turns (the order flips every repeat), with the "
        "same hyperparameters unless a section says otherwise. Medians with min–max; ratios "
        "are of medians. Threads are pinned the same way for both: "
        f"`torch.set_num_threads({THREADS})`, one interop thread, and "
        + ", ".join(f"`{var}={THREADS}`" for var in THREAD_VARS)
        + " set before NumPy or torch is imported (each JSON file records what the workers "
        "reported, BLAS pools included). Small networks run fastest on one thread here (see the "
        "profile); set `RENSHU_BENCH_THREADS` to try another count.",
        "",
        (
            f"Last run: {datetime.date.today().isoformat()}, {', '.join(args.only)} "
            f"({minutes:.0f} minutes; any other section keeps its last results); "
            if args.only
            else f"Written {datetime.date.today().isoformat()} from each section's stored "
            "results (`benchmarks/results/<name>.json`); "
        )
        + f"{info['cpus']} CPUs, {info['platform']}, Python {info['python']}, torch "
        f"{info['torch']}, NumPy {info['numpy']}, Gymnasium {info['gymnasium']}. The machine "
        "is shared and noisy (1-minute load average "
        f"{info['load_average_1min']} at the end): absolute rates move between runs; the "
        "ratios, taken from runs side by side, hold better.",
        "",
        "## Bars",
        "",
        "| Bar | Figure | |",
        "|-----|-------:|-|",
        *rows,
        "",
    ]
    for name, (title, _, _, _) in SECTIONS.items():
        fragment = RESULTS / f"{name}.md"
        if fragment.exists():
            lines += [f"## {title}", "", f"`python benchmarks/{name}.py`", ""]
            lines += [fragment.read_text().rstrip(), ""]
    lines += [
        "## What makes renshu fast here",
        "",
        "- **Update** (most of a step): for renshu's MLP Q-network on the CPU the DQN loss, its "
        "gradient and the Adam step run in NumPy on the torch parameters' own memory "
        "(`renshu/fastpath.py`, `FastAdam` in `renshu/optim.py`): forward, TD target, "
        "Huber/MSE, backward written out once and checked against autograd "
        "(`tests/test_fastpath.py`, identical gradients to float tolerance). A custom module or "
        "loss, a CNN or a GPU uses autograd as before.",
        "- **Flat parameters**: each network's parameters are views into one tensor and the "
        "gradients into another, so the optimizer sees one tensor, gradient clipping is one "
        "dot product and the target sync one copy (or lerp). `FastAdam` steps that tensor "
        "without torch's optimizer machinery (NumPy up to 65,536 elements, torch's fused "
        "kernel above).",
        "- **Replay**: with one-step returns and uniform sampling (any window), `add` writes "
        "two slots and re-checks only the W - 1 oldest starts, and `sample` gathers both "
        "windows of a transition at once; exactly what the general path gives (tests compare "
        "them state for state and batch for batch). Frames stay stored once.",
        "- **Acting**: Q-values in NumPy on the same weights (no torch dispatch, no autograd); "
        "epsilon-greedy draws with `rng.random` (`rng.integers` costs several times more).",
        "- **One env**: stepped directly (same-step autoreset, `SyncVectorEnv`'s info layout) "
        "instead of through `SyncVectorEnv`, which deep-copies and batches infos every step.",
        "- **PPO and A2C**: the default MLP actor-critic acts in NumPy (the policy torso only, "
        "Gumbel-max sampling from the agent's NumPy generator; a rollout's values are computed "
        "in one pass when it is full) and PPO's clipped loss (A2C's policy gradient), its "
        "gradient and the Adam step run in NumPy on flat parameters, checked against autograd "
        "(`tests/test_fastpath.py`). "
        "Large `tanh`s go through torch's vectorized sigmoid (`2 * sigmoid(2x) - 1`, under half "
        "the time of `np.tanh` here), bias gradients are products with a ones vector, and row "
        "sums and maxima avoid NumPy's slow reductions along a short last axis. What remains is "
        "arithmetic and per-call overhead: 20 epochs of 256-sample minibatches per 256 env "
        "steps (about 0.65 ms each, a third of it the 64x64 matrix products), the same work "
        "SB3 does.",
        "- **Threads**: `DQNConfig.threads` (default 1) holds torch and NumPy's BLAS at one "
        "thread while fitting and testing. On this busy 2-core machine the defaults (two "
        "threads each) made the CartPole preset 8x and the Cave CNN 40x slower: the threads "
        "spin waiting for each other on such small work.",
        "",
        "## Environments alone",
        "",
        "The built-in envs' batched twins against `SyncVectorEnv` "
        "(`python benchmarks/env_throughput.py`, results in "
        "`benchmarks/results/env_throughput.md`) and their reference scores "
        "(`python benchmarks/env_scores.py`, `benchmarks/results/env_scores.md`).",
        "",
    ]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

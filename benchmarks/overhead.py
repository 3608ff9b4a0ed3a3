"""Overhead: env steps per second of DQN on CartPole-v1 with one gradient step per env step.

One env, batch 32, a 64x64 MLP, 20,000 env steps (1,000 of random warm-up, then one update per
step), identical hyperparameters for renshu and Stable-Baselines3. What is measured is the time
of ``agent.fit(steps)`` / ``model.learn(steps)`` (construction excluded). Bar: renshu >= 5x SB3.

    python benchmarks/overhead.py [--repeats 5] [--steps 20000]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _common import RESULTS, alternate, fmt, plot_bars, require_sb3, spread, verdict, write_report

ENV = "CartPole-v1"
STEPS = 20_000
BAR = 5.0

# The same settings in both libraries' words.
COMMON = {
    "learning_rate": 1e-3,
    "gamma": 0.99,
    "buffer_size": 50_000,
    "batch_size": 32,
    "warmup_steps": 1_000,
    "train_every": 1,
    "gradient_steps": 1,
    "target_update": 1_000,
    "eps_start": 1.0,
    "eps_end": 0.05,
    "eps_anneal_steps": 10_000,
    "max_grad_norm": 10.0,
    "hidden": [64, 64],
}


def renshu_options(common: dict[str, Any]) -> dict[str, Any]:
    """DQNConfig options for the shared settings."""
    options = {k: v for k, v in common.items() if k != "hidden"}
    plain = {"double": False, "n_step": 1}  # SB3's DQN: plain one-step targets
    return {**options, **plain, "net": common["hidden"], "optimizer": "adam", "loss": "huber"}


def sb3_options(common: dict[str, Any], total_steps: int) -> dict[str, Any]:
    """stable_baselines3.DQN arguments for the shared settings."""
    return {
        "learning_rate": common["learning_rate"],
        "gamma": common["gamma"],
        "buffer_size": common["buffer_size"],
        "batch_size": common["batch_size"],
        "learning_starts": common["warmup_steps"],
        "train_freq": common["train_every"],
        "gradient_steps": common["gradient_steps"],
        "target_update_interval": common["target_update"],
        "exploration_initial_eps": common["eps_start"],
        "exploration_final_eps": common["eps_end"],
        "exploration_fraction": common["eps_anneal_steps"] / total_steps,
        "max_grad_norm": common["max_grad_norm"],
        "policy_kwargs": {"net_arch": list(common["hidden"])},  # Adam, Huber loss: SB3 defaults
    }


def run_renshu(seed: int, steps: int) -> dict[str, Any]:
    import renshu

    agent = renshu.DQN(ENV, seed=seed, **renshu_options(COMMON))
    cpu, started = time.process_time(), time.perf_counter()
    agent.fit(steps=steps, progress=False)
    seconds = time.perf_counter() - started
    return {
        "steps": agent.num_steps,
        "updates": agent.num_updates,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "steps_per_s": agent.num_steps / seconds,
    }


def run_sb3(seed: int, steps: int) -> dict[str, Any]:
    import gymnasium
    from stable_baselines3 import DQN

    model = DQN(
        "MlpPolicy",
        gymnasium.make(ENV),
        seed=seed,
        device="cpu",
        verbose=0,
        **sb3_options(COMMON, steps),
    )
    cpu, started = time.process_time(), time.perf_counter()
    model.learn(total_timesteps=steps)
    seconds = time.perf_counter() - started
    return {
        "steps": model.num_timesteps,
        "updates": model._n_updates,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "steps_per_s": model.num_timesteps / seconds,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args(argv)
    require_sb3()
    print(f"overhead: {ENV}, {args.steps} steps, {args.repeats} repeats each, alternating")
    runs = alternate(
        {
            "renshu": (run_renshu, {"steps": args.steps}),
            "sb3": (run_sb3, {"steps": args.steps}),
        },
        args.repeats,
        seeds=list(range(args.repeats)),
    )
    sps = {lib: [r["steps_per_s"] for r in rs] for lib, rs in runs.items()}
    cpu_sps = {lib: [r["steps"] / r["cpu_seconds"] for r in rs] for lib, rs in runs.items()}
    stats = {lib: spread(v) for lib, v in sps.items()}
    ratio = stats["renshu"]["median"] / stats["sb3"]["median"]
    # Pairwise ratios (each renshu run against the SB3 run next to it) show the spread.
    pairs = [a / b for a, b in zip(sps["renshu"], sps["sb3"], strict=True)]
    met = ratio >= BAR
    updates = {lib: sorted({r["updates"] for r in rs}) for lib, rs in runs.items()}
    markdown = "\n".join(
        [
            f"CartPole-v1, 1 env, one gradient step per env step (after {COMMON['warmup_steps']:,} "
            f"warm-up steps), batch 32, 64x64 MLP, Adam, Huber loss, {args.steps:,} env steps; "
            f"median (min–max) of {args.repeats} runs per library, taking turns, each in a fresh "
            "process. Gradient steps per run: "
            f"renshu {', '.join(map(str, updates['renshu']))}; "
            f"SB3 {', '.join(map(str, updates['sb3']))}.",
            "",
            "| Library | Env steps/s (wall) | Env steps/s (CPU time) | Seconds for the run |",
            "|---------|-------------------:|-----------------------:|--------------------:|",
            *(
                f"| {lib} | {fmt(stats[lib])} | {fmt(spread(cpu_sps[lib]))} | "
                f"{fmt(spread([r['seconds'] for r in runs[lib]]), 1)} |"
                for lib in ("renshu", "sb3")
            ),
            "",
            f"Ratio of medians renshu / SB3: **{ratio:.1f}x** (run by run: "
            f"{', '.join(f'{p:.1f}x' for p in pairs)}). Bar >= {BAR:g}x: {verdict(met)}.",
            "",
            "![overhead](benchmarks/results/overhead.png)",
        ]
    )
    plot_bars(
        RESULTS / "overhead.png",
        f"DQN on CartPole-v1, one update per env step ({args.steps:,} steps)",
        "env steps per second",
        {"wall clock": sps, "CPU time": cpu_sps},
    )
    report = {
        "config": {"env": ENV, "steps": args.steps, "repeats": args.repeats, **COMMON},
        "renshu_options": renshu_options(COMMON),
        "sb3_options": sb3_options(COMMON, args.steps),
        "runs": runs,
        "summary": {
            "steps_per_s": stats,
            "cpu_steps_per_s": {lib: spread(v) for lib, v in cpu_sps.items()},
            "ratio_of_medians": ratio,
            "pairwise_ratios": pairs,
        },
        "bar": {"text": f"renshu env steps/s >= {BAR:g}x SB3's", "value": ratio, "met": met},
    }
    write_report("overhead", report, markdown)
    print(markdown)
    return report


if __name__ == "__main__":
    main()

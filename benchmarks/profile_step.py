"""Where the time goes: one env step of the overhead config, split into its phases.

The overhead benchmark's settings (CartPole-v1, 1 env, one gradient step of batch 32 per env
step, 64x64 MLP). After 1,000 warm-up steps (not timed), the methods that make up each phase are
wrapped with timers for the next ``--steps`` steps, in both libraries:

=============  ==============================================  =================================
phase          renshu                                          Stable-Baselines3
=============  ==============================================  =================================
env step       ``agent.env.step``                              ``model.env.step`` (VecEnv)
acting         ``agent._q_values`` + ``exploration.select``    ``model._sample_action``
storing        ``agent.buffer.add``                            ``model._store_transition``
sampling       ``agent.buffer.sample_arrays``                  ``model.replay_buffer.sample``
update         ``agent._train_step`` less sampling             ``model.train`` less sampling
target sync    ``agent._update_target``                        ``polyak_update`` (in ``_on_step``)
other          the rest of the loop: bookkeeping, callbacks, progress, logging
=============  ==============================================  =================================

Each timer costs about a microsecond per call, included in its phase. Median of ``--repeats``
runs per library, taking turns.

    python benchmarks/profile_step.py [--repeats 3] [--steps 5000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from _common import RESULTS, alternate, require_sb3, write_report
from overhead import COMMON, ENV, renshu_options, sb3_options

PHASES = ("env step", "acting", "storing", "sampling", "update", "target sync", "other")
WARMUP = 1_000


class Timers:
    """Seconds spent in wrapped callables, per phase."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)

    def wrap(self, owner: Any, name: str, phase: str) -> None:
        """Replace ``owner.name`` by a timed version (an instance attribute)."""
        inner: Callable[..., Any] = getattr(owner, name)
        clock, seconds = time.perf_counter, self.seconds

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return inner(*args, **kwargs)
            finally:
                seconds[phase] += clock() - started

        setattr(owner, name, timed)

    def per_step(self, total: float, steps: int) -> dict[str, float]:
        """Microseconds per env step, with the sampling taken out of the update."""
        us = {k: v / steps * 1e6 for k, v in self.seconds.items()}
        us["update"] -= us["sampling"]
        us["other"] = total / steps * 1e6 - sum(v for k, v in us.items() if k != "other")
        us["total"] = total / steps * 1e6
        return us


def run_renshu(seed: int, steps: int) -> dict[str, Any]:
    import renshu

    agent = renshu.DQN(ENV, seed=seed, **renshu_options(COMMON))
    agent.fit(steps=WARMUP, progress=False)  # fill the replay, not timed
    timers = Timers()
    timers.wrap(agent.env, "step", "env step")
    timers.wrap(agent, "_q_values", "acting")
    timers.wrap(agent.exploration, "select", "acting")
    timers.wrap(agent.buffer, "add", "storing")
    timers.wrap(agent.buffer, "sample_arrays", "sampling")
    timers.wrap(agent, "_train_step", "update")
    timers.wrap(agent, "_update_target", "target sync")
    started = time.perf_counter()
    agent.fit(steps=steps, progress=False)
    return {"us_per_step": timers.per_step(time.perf_counter() - started, steps)}


def run_sb3(seed: int, steps: int) -> dict[str, Any]:
    import gymnasium
    import stable_baselines3.dqn.dqn as sb3_dqn
    from stable_baselines3 import DQN

    model = DQN(
        "MlpPolicy",
        gymnasium.make(ENV),
        seed=seed,
        device="cpu",
        verbose=0,
        **sb3_options(COMMON, WARMUP + steps),
    )
    model.learn(total_timesteps=WARMUP)  # fill the replay, not timed
    timers = Timers()
    timers.wrap(model.env, "step", "env step")
    timers.wrap(model, "_sample_action", "acting")
    timers.wrap(model, "_store_transition", "storing")
    timers.wrap(model.replay_buffer, "sample", "sampling")
    timers.wrap(model, "train", "update")
    timers.wrap(sb3_dqn, "polyak_update", "target sync")
    started = time.perf_counter()
    model.learn(total_timesteps=steps, reset_num_timesteps=False)
    return {"us_per_step": timers.per_step(time.perf_counter() - started, steps)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import statistics

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5_000)
    args = parser.parse_args(argv)
    require_sb3()
    print(f"profile: {ENV}, overhead settings, {args.steps} timed steps, {args.repeats} repeats")
    runs = alternate(
        {
            "renshu": (run_renshu, {"steps": args.steps}),
            "sb3": (run_sb3, {"steps": args.steps}),
        },
        args.repeats,
        seeds=list(range(args.repeats)),
    )
    table = {
        lib: {
            phase: statistics.median(r["us_per_step"][phase] for r in rs)
            for phase in (*PHASES, "total")
        }
        for lib, rs in runs.items()
    }
    lines = [
        f"Microseconds per env step by phase, overhead settings (CartPole-v1, one gradient "
        f"step of batch 32 per env step, 64x64 MLP), {args.steps:,} steps after "
        f"{WARMUP:,} of warm-up; median of {args.repeats} runs per library, taking turns.",
        "",
        "| Phase | renshu (µs) | share | SB3 (µs) | share | SB3 / renshu |",
        "|-------|------------:|------:|---------:|------:|-------------:|",
    ]
    for phase in (*PHASES, "total"):
        r, s = table["renshu"][phase], table["sb3"][phase]
        share_r = r / table["renshu"]["total"] * 100
        share_s = s / table["sb3"]["total"] * 100
        ratio = f"{s / r:.1f}x" if r > 0.05 else "–"
        name = f"**{phase}**" if phase == "total" else phase
        lines.append(
            f"| {name} | {r:,.1f} | {share_r:.0f}% | {s:,.1f} | {share_s:.0f}% | {ratio} |"
        )
    lines += ["", "![profile](benchmarks/results/profile_step.png)"]
    markdown = "\n".join(lines)
    _plot(table)
    report = {
        "config": {"env": ENV, "steps": args.steps, "warmup": WARMUP, **COMMON},
        "runs": runs,
        "median_us_per_step": table,
    }
    write_report("profile_step", report, markdown)
    print(markdown)
    return report


def _plot(table: dict[str, dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.6))
    colors = ["#66a182", "#edae49", "#d1495b", "#00798c", "#30638e", "#8d6a9f", "#aaaaaa"]
    libraries = [("renshu", "renshu"), ("sb3", "Stable-Baselines3")]
    for y, (lib, _) in enumerate(libraries):
        left = 0.0
        for phase, color in zip(PHASES, colors, strict=True):
            width = max(table[lib][phase], 0.0)
            ax.barh(y, width, left=left, color=color, label=phase if y == 0 else None)
            left += width
    ax.set_yticks(range(len(libraries)), [label for _, label in libraries])
    ax.set_xlabel("µs per env step")
    ax.set_title("Where the time of one env step goes (one update per step)", fontsize=10)
    ax.legend(ncol=4, fontsize=7, frameon=False, loc="lower right")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(RESULTS / "profile_step.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()

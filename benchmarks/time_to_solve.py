"""Time to solve CartPole-v1: wall time until a greedy evaluation over 20 episodes reaches 475.

Each library with its best settings: Stable-Baselines3 with the RL Baselines3 Zoo's tuned DQN
hyperparameters for CartPole-v1 (copied below), renshu with its preset
``src/renshu/presets/CartPole-v1.yaml``. Both are checked the same way at the same cadence:
every ``--every`` env steps, 20 greedy episodes on a separate env (SB3: its ``EvalCallback`` with
``StopTrainingOnRewardThreshold``; renshu: ``renshu.Evaluate(every, episodes=20, stop_at=475)``),
stopping at the first mean >= 475. The wall time covers training and these evaluations (the
check is part of the procedure), from the start of ``learn``/``fit`` to the stop. 5 seeds each,
taking turns. Bar: renshu's median <= 1/5 of SB3's, and 5 of 5 seeds solve.

    python benchmarks/time_to_solve.py [--seeds 5] [--every 1000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from _common import RESULTS, alternate, fmt, plot_bars, require_sb3, spread, verdict, write_report

ENV = "CartPole-v1"
THRESHOLD = 475.0
EPISODES = 20
EVERY = 1_000
BAR = 5.0

# RL Baselines3 Zoo, hyperparams/dqn.yml, "CartPole-v1" (rl-baselines3-zoo 2.x; the block the zoo
# marks "Almost Tuned"): https://github.com/DLR-RM/rl-baselines3-zoo/blob/master/hyperparams/dqn.yml
ZOO_CARTPOLE_DQN: dict[str, Any] = {
    "n_timesteps": 50_000,
    "policy": "MlpPolicy",
    "learning_rate": 2.3e-3,
    "batch_size": 64,
    "buffer_size": 100_000,
    "learning_starts": 1000,
    "gamma": 0.99,
    "target_update_interval": 10,
    "train_freq": 256,
    "gradient_steps": 128,
    "exploration_fraction": 0.16,
    "exploration_final_eps": 0.04,
    "policy_kwargs": {"net_arch": [256, 256]},
}


def run_renshu(seed: int, every: int) -> dict[str, Any]:
    import renshu
    from renshu import presets

    preset = presets.load(ENV)
    agent = renshu.DQN(ENV, seed=seed, **preset.config)
    check = renshu.Evaluate(every, episodes=EPISODES, stop_at=THRESHOLD)
    cpu, started = time.process_time(), time.perf_counter()
    agent.fit(steps=preset.steps, progress=False, callbacks=[check])
    seconds = time.perf_counter() - started
    means = [mean for _, mean, _ in check.results]
    return {
        "solved": bool(means) and max(means) >= THRESHOLD,
        "steps": agent.num_steps,
        "budget": preset.steps,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "evaluations": [[step, mean] for step, mean, _ in check.results],
        "config": preset.config,
    }


def run_sb3(seed: int, every: int) -> dict[str, Any]:
    import gymnasium
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import (
        BaseCallback,
        EvalCallback,
        StopTrainingOnRewardThreshold,
    )

    class Record(BaseCallback):  # type: ignore[misc]
        """After each evaluation: (env steps, mean reward)."""

        def __init__(self) -> None:
            super().__init__()
            self.results: list[list[float]] = []

        def _on_step(self) -> bool:
            assert self.parent is not None
            self.results.append([self.num_timesteps, float(self.parent.last_mean_reward)])
            return True

    zoo = dict(ZOO_CARTPOLE_DQN)
    budget, policy = int(zoo.pop("n_timesteps")), zoo.pop("policy")
    model = DQN(policy, gymnasium.make(ENV), seed=seed, device="cpu", verbose=0, **zoo)
    eval_env = gymnasium.make(ENV)
    eval_env.reset(seed=seed + 10_000)
    record = Record()
    check = EvalCallback(
        eval_env,
        n_eval_episodes=EPISODES,
        eval_freq=every,
        deterministic=True,
        callback_on_new_best=StopTrainingOnRewardThreshold(THRESHOLD, verbose=0),
        callback_after_eval=record,
        verbose=0,
    )
    cpu, started = time.process_time(), time.perf_counter()
    model.learn(total_timesteps=budget, callback=check)
    seconds = time.perf_counter() - started
    return {
        "solved": check.best_mean_reward >= THRESHOLD,
        "steps": model.num_timesteps,
        "budget": budget,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "evaluations": record.results,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--every", type=int, default=EVERY)
    args = parser.parse_args(argv)
    require_sb3()
    print(f"time to solve: {ENV}, {args.seeds} seeds each, evaluation every {args.every} steps")
    runs = alternate(
        {
            "renshu": (run_renshu, {"every": args.every}),
            "sb3": (run_sb3, {"every": args.every}),
        },
        args.seeds,
        seeds=list(range(args.seeds)),
    )
    seconds = {lib: [r["seconds"] for r in rs] for lib, rs in runs.items()}
    steps = {lib: [r["steps"] for r in rs] for lib, rs in runs.items()}
    solved = {lib: sum(r["solved"] for r in rs) for lib, rs in runs.items()}
    stats = {lib: spread(v) for lib, v in seconds.items()}
    ratio = stats["sb3"]["median"] / stats["renshu"]["median"]
    met = ratio >= BAR and solved["renshu"] == args.seeds
    preset = runs["renshu"][0]["config"]

    def row(lib: str) -> str:
        budget = runs[lib][0]["budget"]
        return (
            f"| {lib} | {fmt(stats[lib], 1, ' s')} | "
            f"{fmt(spread(steps[lib]))} | {solved[lib]} of {args.seeds} (budget {budget:,}) |"
        )

    markdown = "\n".join(
        [
            f"CartPole-v1 until a greedy evaluation over {EPISODES} episodes reaches "
            f"{THRESHOLD:g}, checked every {args.every:,} env steps by both libraries; wall "
            "time from the start of training to the stop, evaluations included; median "
            f"(min–max) over seeds 0–{args.seeds - 1}, taking turns. An unsolved run counts "
            "with its whole budget.",
            "",
            "| Library | Wall time to solve | Env steps | Solved |",
            "|---------|-------------------:|----------:|-------:|",
            row("renshu"),
            row("sb3"),
            "",
            f"SB3 / renshu median wall time: **{ratio:.1f}x**. Bar: renshu <= 1/{BAR:g} of SB3's "
            f"median and {args.seeds} of {args.seeds} seeds solve: {verdict(met)}.",
            "",
            "Settings. SB3: the RL Baselines3 Zoo's tuned CartPole-v1 DQN "
            "(`hyperparams/dqn.yml`: "
            + ", ".join(f"{k}={v}" for k, v in ZOO_CARTPOLE_DQN.items() if k != "policy")
            + "). renshu: `src/renshu/presets/CartPole-v1.yaml` ("
            + ", ".join(f"{k}={v}" for k, v in preset.items())
            + ").",
            "",
            "![time to solve](benchmarks/results/time_to_solve.png)",
        ]
    )
    plot_bars(
        RESULTS / "time_to_solve.png",
        f"CartPole-v1: wall time until greedy eval >= {THRESHOLD:g} (seeds 0-{args.seeds - 1})",
        "seconds",
        {"wall time to solve": seconds},
    )
    report = {
        "config": {
            "env": ENV,
            "threshold": THRESHOLD,
            "episodes": EPISODES,
            "every": args.every,
            "seeds": args.seeds,
            "sb3_zoo": ZOO_CARTPOLE_DQN,
            "renshu_preset": preset,
        },
        "runs": runs,
        "summary": {
            "seconds": stats,
            "steps": {lib: spread(v) for lib, v in steps.items()},
            "solved": solved,
            "ratio_sb3_over_renshu": ratio,
            "steps_median": {lib: statistics.median(v) for lib, v in steps.items()},
        },
        "bar": {
            "text": f"renshu median wall time <= 1/{BAR:g} of SB3's, and every seed solves",
            "value": ratio,
            "met": met,
        },
    }
    write_report("time_to_solve", report, markdown)
    print(markdown)
    return report


if __name__ == "__main__":
    main()

"""PPO: renshu and Stable-Baselines3 side by side on CartPole-v1, and renshu on batched Catch.

CartPole-v1 with the RL Baselines3 Zoo's tuned PPO settings (8 envs, n_steps 32, batch 256,
gae_lambda 0.8, gamma 0.98, 20 epochs, lr 1e-3 and clip 0.2 both annealed linearly to 0,
``hyperparams/ppo.yml``) for 100,000 env steps per seed; then 20 greedy episodes on a fresh env
(the same episodes for both libraries). Measured: env steps per second of ``fit``/``learn``
(construction excluded) and the greedy score. Bars: renshu >= 5x SB3's steps/s (ratio of
medians), and CartPole solved (greedy >= 475) in 5 of 5 seeds within 100,000 steps.

Catch: renshu's PPO on the batched twin (``num_envs`` copies stepped as one array), 64 and
1,024 copies; steps/s only (goal: >= 100,000 steps/s with 1,024 copies on a 2-core CPU).

    python benchmarks/ppo.py [--seeds 5] [--steps 100000] [--catch-steps 200000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from _common import (
    RESULTS,
    alternate,
    fmt,
    greedy_rewards,
    plot_bars,
    require_sb3,
    run_one,
    spread,
    verdict,
    write_report,
)

ENV = "CartPole-v1"
STEPS = 100_000
EPISODES = 20
SOLVED = 475.0
BAR = 5.0

# RL Baselines3 Zoo 2.x, hyperparams/ppo.yml, "CartPole-v1":
# https://github.com/DLR-RM/rl-baselines3-zoo/blob/master/hyperparams/ppo.yml
ZOO_CARTPOLE_PPO: dict[str, Any] = {
    "n_envs": 8,
    "n_steps": 32,
    "batch_size": 256,
    "gae_lambda": 0.8,
    "gamma": 0.98,
    "n_epochs": 20,
    "ent_coef": 0.0,
    "learning_rate": "lin_1e-3",
    "clip_range": "lin_0.2",
}


def renshu_config() -> dict[str, Any]:
    """The zoo's settings under renshu's names (the same names; schedules as options)."""
    z = ZOO_CARTPOLE_PPO
    return {
        "num_envs": z["n_envs"],
        "n_steps": z["n_steps"],
        "batch_size": z["batch_size"],
        "gae_lambda": z["gae_lambda"],
        "gamma": z["gamma"],
        "n_epochs": z["n_epochs"],
        "ent_coef": z["ent_coef"],
        "learning_rate": 1e-3,
        "lr_schedule": "linear",
        "clip_range": 0.2,
        "clip_range_schedule": "linear",
        "normalize_obs": False,  # the zoo's CartPole PPO runs without VecNormalize
    }


def run_renshu(seed: int, steps: int, episodes: int) -> dict[str, Any]:
    import renshu

    agent = renshu.PPO(ENV, seed=seed, **renshu_config())
    started = time.perf_counter()
    agent.fit(steps=steps, progress=False)
    seconds = time.perf_counter() - started
    rewards = greedy_rewards(ENV, agent.act, 10_000 + seed, episodes)
    return _result(agent.num_steps, seconds, rewards)


def run_sb3(seed: int, steps: int, episodes: int) -> dict[str, Any]:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    def linear(start: float) -> Any:
        return lambda progress_remaining: progress_remaining * start

    z = ZOO_CARTPOLE_PPO
    model = PPO(
        "MlpPolicy",
        make_vec_env(ENV, n_envs=z["n_envs"], seed=seed),
        n_steps=z["n_steps"],
        batch_size=z["batch_size"],
        gae_lambda=z["gae_lambda"],
        gamma=z["gamma"],
        n_epochs=z["n_epochs"],
        ent_coef=z["ent_coef"],
        learning_rate=linear(1e-3),
        clip_range=linear(0.2),
        seed=seed,
        device="cpu",
        verbose=0,
    )
    started = time.perf_counter()
    model.learn(total_timesteps=steps)
    seconds = time.perf_counter() - started
    rewards = greedy_rewards(
        ENV, lambda obs: int(model.predict(obs, deterministic=True)[0]), 10_000 + seed, episodes
    )
    return _result(int(model.num_timesteps), seconds, rewards)


def _result(steps: int, seconds: float, rewards: list[float]) -> dict[str, Any]:
    mean = float(statistics.fmean(rewards))
    return {
        "steps": steps,
        "seconds": seconds,
        "steps_per_s": steps / seconds,
        "greedy": mean,
        "solved": mean >= SOLVED,
    }


def run_catch(num_envs: int, steps: int) -> dict[str, Any]:
    import renshu

    agent = renshu.PPO(
        "catch",
        seed=0,
        num_envs=num_envs,
        n_steps=32,
        batch_size=min(32 * num_envs, 4_096),
        n_epochs=4,
    )
    started = time.perf_counter()
    agent.fit(steps=steps, progress=False)
    seconds = time.perf_counter() - started
    return {
        "num_envs": num_envs,
        "steps": agent.num_steps,
        "steps_per_s": agent.num_steps / seconds,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--episodes", type=int, default=EPISODES)
    parser.add_argument("--catch-steps", type=int, default=200_000)
    args = parser.parse_args(argv)
    require_sb3()
    print(f"ppo: {ENV}, {args.steps:,} steps, {args.seeds} seeds each, alternating")
    kwargs = {"steps": args.steps, "episodes": args.episodes}
    runs = alternate(
        {"renshu": (run_renshu, kwargs), "sb3": (run_sb3, kwargs)},
        args.seeds,
        seeds=list(range(args.seeds)),
    )
    sps = {lib: [r["steps_per_s"] for r in rs] for lib, rs in runs.items()}
    stats = {lib: spread(v) for lib, v in sps.items()}
    ratio = stats["renshu"]["median"] / stats["sb3"]["median"]
    pairs = [a / b for a, b in zip(sps["renshu"], sps["sb3"], strict=True)]
    solved = {lib: sum(r["solved"] for r in rs) for lib, rs in runs.items()}
    catch = [run_one(run_catch, num_envs=n, steps=args.catch_steps) for n in (64, 1_024)]
    for c in catch:
        print(f"  catch x{c['num_envs']}: {c['steps_per_s']:,.0f} steps/s")
    speed_met = ratio >= BAR
    solve_met = solved["renshu"] == args.seeds
    rows = [
        f"| {lib} | {fmt(stats[lib])} | "
        + ", ".join(f"{r['greedy']:.0f}" for r in runs[lib])
        + f" | {solved[lib]}/{args.seeds} |"
        for lib in ("renshu", "sb3")
    ]
    markdown = "\n".join(
        [
            f"{ENV}, the RL Zoo's tuned PPO settings (8 envs, n_steps 32, batch 256, gae_lambda "
            "0.8, gamma 0.98, 20 epochs, lr 1e-3 and clip 0.2 annealed linearly), "
            f"{args.steps:,} env steps per seed, seeds 0-{args.seeds - 1}, taking turns, each run "
            f"in a fresh process; then {args.episodes} greedy episodes (the same for both).",
            "",
            "| Library | Env steps/s, median (min–max) | Greedy score by seed | Solved (>= 475) |",
            "|---|--:|---|--:|",
            *rows,
            "",
            f"Ratio of medians renshu / SB3: **{ratio:.1f}x** (run by run: "
            f"{', '.join(f'{p:.1f}x' for p in pairs)}). Bar >= {BAR:g}x: {verdict(speed_met)}. "
            f"Bar 5 of 5 seeds solved: {verdict(solve_met)}.",
            "",
            "renshu PPO on the batched Catch twin (n_steps 32, 4 epochs, "
            f"{args.catch_steps:,} steps): "
            + ", ".join(f"{c['num_envs']:,} copies {c['steps_per_s']:,.0f} steps/s" for c in catch)
            + " (goal >= 100,000 steps/s with 1,024 copies).",
            "",
            "![ppo](benchmarks/results/ppo.png)",
        ]
    )
    plot_bars(
        RESULTS / "ppo.png",
        f"PPO on {ENV}, RL Zoo settings ({args.steps:,} steps)",
        "env steps per second",
        {"wall clock": sps},
    )
    report = {
        "config": {"env": ENV, "steps": args.steps, "seeds": args.seeds, **ZOO_CARTPOLE_PPO},
        "renshu_options": renshu_config(),
        "runs": runs,
        "catch": catch,
        "summary": {"steps_per_s": stats, "ratio_of_medians": ratio, "pairwise_ratios": pairs},
        "bars": {
            "speed": {
                "text": f"renshu PPO steps/s >= {BAR:g}x SB3's",
                "value": ratio,
                "met": speed_met,
            },
            "solved": {
                "text": f"CartPole solved in {args.seeds} of {args.seeds} seeds",
                "value": solved["renshu"],
                "met": solve_met,
            },
        },
    }
    write_report("ppo", report, markdown)
    print(markdown)
    return report


if __name__ == "__main__":
    main()

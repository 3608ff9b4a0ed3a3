"""LunarLander-v3 with the RL Baselines3 Zoo's tuned DQN settings: renshu and SB3 side by side.

Both libraries train with the same settings (the zoo's ``hyperparams/dqn.yml`` block for
LunarLander-v3, mapped to renshu's option names below) for 100,000 env steps on seeds 0, 1 and 2,
then play ``--episodes`` greedy episodes on a fresh env whose first reset is seeded with
``10_000 + seed`` (the same episodes for both libraries: ``agent.test(seed=...)`` and
``_common.greedy_rewards`` reset alike). renshu runs with its defaults otherwise, which include
running mean/std observation normalization (the zoo's DQN runs without VecNormalize). Each run is
a fresh process; the libraries take turns. Bar: renshu's mean over the seeds at least SB3's.

Needs Box2D: ``pip install -e '.[bench]'``.

    python benchmarks/lunarlander.py [--seeds 3] [--steps 100000] [--episodes 100] [--only LIB]

``--only renshu`` (or ``sb3``) runs one library and keeps the other's runs from the last report.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from _common import (
    RESULTS,
    fmt,
    greedy_rewards,
    plot_bars,
    require_sb3,
    run_one,
    spread,
    verdict,
    write_report,
)

ENV = "LunarLander-v3"
STEPS = 100_000
EPISODES = 100
NAME = "lunarlander"

# RL Baselines3 Zoo 2.x, hyperparams/dqn.yml, "LunarLander-v3" (marked "Tuned"):
# https://github.com/DLR-RM/rl-baselines3-zoo/blob/master/hyperparams/dqn.yml
ZOO_LUNARLANDER_DQN: dict[str, Any] = {
    "n_timesteps": 100_000,
    "policy": "MlpPolicy",
    "learning_rate": 6.3e-4,
    "batch_size": 128,
    "buffer_size": 50_000,
    "learning_starts": 0,
    "gamma": 0.99,
    "target_update_interval": 250,
    "train_freq": 4,
    "gradient_steps": -1,
    "exploration_fraction": 0.12,
    "exploration_final_eps": 0.1,
    "policy_kwargs": {"net_arch": [256, 256]},
}


def renshu_config(steps: int) -> dict[str, Any]:
    """The zoo's settings under renshu's names (SB3's defaults where the zoo sets nothing)."""
    z = ZOO_LUNARLANDER_DQN
    return {
        "learning_rate": z["learning_rate"],
        "batch_size": z["batch_size"],
        "buffer_size": z["buffer_size"],
        "warmup_steps": z["learning_starts"],
        "gamma": z["gamma"],
        "target_update": z["target_update_interval"],  # env steps, as SB3 counts them (1 env)
        "train_every": z["train_freq"],
        # gradient_steps=-1: as many gradient steps as env steps collected since the last call
        "gradient_steps": z["train_freq"],
        "eps_start": 1.0,  # SB3's exploration_initial_eps default
        "eps_end": z["exploration_final_eps"],
        "eps_anneal_steps": int(z["exploration_fraction"] * steps),
        "net": list(z["policy_kwargs"]["net_arch"]),
        "max_grad_norm": 10.0,  # SB3's default
        "loss": "huber",  # SB3's smooth L1
        "double": False,  # SB3's DQN: plain one-step targets
        "n_step": 1,
    }


def run_renshu(seed: int, steps: int, episodes: int) -> dict[str, Any]:
    import renshu

    config = renshu_config(steps)
    agent = renshu.DQN(ENV, seed=seed, **config)
    started = time.perf_counter()
    agent.fit(steps=steps, progress=False)
    seconds = time.perf_counter() - started
    rewards = agent.test(episodes=episodes, seed=10_000 + seed).history["episode_reward"]
    return {
        "mean": float(statistics.fmean(rewards)),
        "rewards": [float(r) for r in rewards],
        "steps": agent.num_steps,
        "seconds": seconds,
        "config": config,
    }


def run_sb3(seed: int, steps: int, episodes: int) -> dict[str, Any]:
    import gymnasium
    from stable_baselines3 import DQN

    zoo = dict(ZOO_LUNARLANDER_DQN)
    zoo.pop("n_timesteps")
    policy = zoo.pop("policy")
    model = DQN(policy, gymnasium.make(ENV), seed=seed, device="cpu", verbose=0, **zoo)
    started = time.perf_counter()
    model.learn(total_timesteps=steps)
    seconds = time.perf_counter() - started
    rewards = greedy_rewards(
        ENV, lambda obs: int(model.predict(obs, deterministic=True)[0]), 10_000 + seed, episodes
    )
    return {
        "mean": float(statistics.fmean(rewards)),
        "rewards": rewards,
        "steps": int(model.num_timesteps),
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--episodes", type=int, default=EPISODES)
    parser.add_argument("--only", choices=("renshu", "sb3"), default=None)
    args = parser.parse_args(argv)
    if args.only != "renshu":
        require_sb3()
    seeds = list(range(args.seeds))
    functions = {"renshu": run_renshu, "sb3": run_sb3}
    libraries = [args.only] if args.only else ["renshu", "sb3"]
    runs: dict[str, list[dict[str, Any]]] = {lib: [] for lib in ("renshu", "sb3")}
    previous = RESULTS / f"{NAME}.json"
    if args.only and previous.exists():  # keep the other library's runs
        runs.update(
            {
                lib: rs
                for lib, rs in json.loads(previous.read_text())["runs"].items()
                if lib != args.only
            }
        )
    print(f"{ENV}: {args.steps:,} steps, seeds {seeds}, {args.episodes} greedy episodes")
    for i, seed in enumerate(seeds):
        for lib in libraries if i % 2 == 0 else libraries[::-1]:
            result = run_one(functions[lib], seed=seed, steps=args.steps, episodes=args.episodes)
            result["seed"] = seed
            runs[lib].append(result)
            print(f"  {lib:7s} seed {seed}: mean {result['mean']:.1f}, {result['seconds']:.0f} s")
    for rs in runs.values():
        rs.sort(key=lambda r: r["seed"])

    means = {lib: [r["mean"] for r in rs] for lib, rs in runs.items() if rs}
    overall = {lib: statistics.fmean(v) for lib, v in means.items()}
    met = "sb3" in overall and "renshu" in overall and overall["renshu"] >= overall["sb3"]
    seeds_shown = sorted({r["seed"] for rs in runs.values() for r in rs})
    header = "| Library | " + " | ".join(f"seed {s}" for s in seeds_shown) + " | mean | time |"
    lines = [header, "|---" * (len(seeds_shown) + 3) + "|"]
    for lib, rs in runs.items():
        if not rs:
            continue
        by_seed = {r["seed"]: r["mean"] for r in rs}
        cells = [f"{by_seed[s]:.1f}" if s in by_seed else "–" for s in seeds_shown]
        time_cell = fmt(spread([r["seconds"] for r in rs]), 0, " s")
        lines.append(
            f"| {lib} | " + " | ".join(cells) + f" | **{overall[lib]:.1f}** | {time_cell} |"
        )
    episodes = {r.get("episodes", len(r["rewards"])) for rs in runs.values() for r in rs}
    markdown = "\n".join(
        [
            f"{ENV} with the RL Baselines3 Zoo's tuned DQN settings, {args.steps:,} env steps, "
            f"then the mean reward of {', '.join(map(str, sorted(episodes)))} greedy episodes "
            "(the same episodes for both libraries); training wall time median (min–max).",
            "",
            *lines,
            "",
            f"Bar: renshu's mean over the seeds at least SB3's: {verdict(met)}."
            if all(runs.get(lib) for lib in ("renshu", "sb3"))
            else "Bar: renshu's mean over the seeds at least SB3's: not decided, as this report "
            "has one library only (`python benchmarks/lunarlander.py --only sb3` adds the other).",
            "",
            "Settings (`hyperparams/dqn.yml`: "
            + ", ".join(f"{k}={v}" for k, v in ZOO_LUNARLANDER_DQN.items() if k != "policy")
            + "); renshu: "
            + ", ".join(f"{k}={v}" for k, v in renshu_config(args.steps).items())
            + ", observation normalization on (its default).",
            "",
            f"![LunarLander](benchmarks/results/{NAME}.png)",
        ]
    )
    plot_bars(
        RESULTS / f"{NAME}.png",
        f"{ENV}: greedy mean after {args.steps:,} steps (zoo settings)",
        "mean episode reward",
        {"greedy mean": means},
    )
    report = {
        "config": {
            "env": ENV,
            "steps": args.steps,
            "episodes": args.episodes,
            "seeds": seeds_shown,
            "sb3_zoo": ZOO_LUNARLANDER_DQN,
            "renshu": renshu_config(args.steps),
        },
        "runs": runs,
        "summary": {"mean": overall, "per_seed": means},
        "bar": {
            "text": "LunarLander-v3, zoo DQN settings: renshu's mean over the seeds >= SB3's",
            "value": " vs ".join(
                f"{overall[lib]:.1f}" for lib in ("renshu", "sb3") if lib in overall
            ),
            "met": met,
        },
    }
    write_report(NAME, report, markdown)
    print(markdown)
    return report


if __name__ == "__main__":
    main()

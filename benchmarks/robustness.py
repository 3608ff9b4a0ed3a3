"""Robustness of the defaults: how many seeds of each algorithm's defaults solve each env.

One seed's result is luck; five seeds say how often the defaults work on an env nobody tuned
them for. Each algorithm runs with its defaults and nothing else: ``renshu.DQN(env, seed=s)``,
``renshu.PPO(env, seed=s)``, ``renshu.A2C(env, seed=s)`` (no preset, no option) and
Stable-Baselines3's ``DQN``, ``PPO`` and ``A2C`` with default arguments (``"MlpPolicy"``,
``seed=s``). Every algorithm gets the same budget of env steps per env. After training, the
greedy policy plays the env's test episodes (a fresh env, first reset seeded with
``10_000 + seed``, the same episodes for every algorithm); its mean is the run's final score.

Per env and algorithm the table gives the seeds that reach the env's threshold and the IQM of
the final scores (interquartile mean, Agarwal et al. 2021, "Deep RL at the Edge of the
Statistical Precipice": the mean of the middle half, ``scipy.stats.trim_mean(x, 0.25)``).

Envs, budgets and thresholds (:data:`ENVS`): CartPole-v1 (475), Acrobot-v1 (-100), FrozenLake-v1
4x4 with ``is_slippery=False`` (1.0), renshu/Shower-v0 (50; the scripted controller gets +59.1),
renshu/Catch-v0 (20; scripted +25.8) and :class:`renshu.envs.toy.DelayedChainEnv` (a corridor
whose only reward, +1, comes 10 steps after reaching its far end; 0.9).

Runs go one per fresh process (threads pinned to 1, see ``_common.py``), ``--jobs`` at a time;
the JSON file is rewritten after every run, and a run already in it is not run again, so an
interrupted benchmark continues where it stopped.

    python benchmarks/robustness.py --name robustness-before [--seeds 5] [--jobs 1]
        [--algos renshu-dqn,sb3-ppo] [--envs CartPole-v1,chain]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import statistics
import sys
import time
from typing import Any

from _common import RESULTS, _run_in_worker, greedy_rewards, system_info, worker_setup

ENVS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"id": "CartPole-v1", "steps": 50_000, "threshold": 475.0, "episodes": 10},
    "Acrobot-v1": {"id": "Acrobot-v1", "steps": 50_000, "threshold": -100.0, "episodes": 10},
    "FrozenLake": {
        "id": "bench/FrozenLake4x4NotSlippery-v1",
        "steps": 20_000,
        "threshold": 1.0,
        "episodes": 10,
    },
    "shower": {"id": "renshu/Shower-v0", "steps": 20_000, "threshold": 50.0, "episodes": 20},
    "catch": {"id": "renshu/Catch-v0", "steps": 30_000, "threshold": 20.0, "episodes": 20},
    "chain": {"id": "bench/DelayedChain-v0", "steps": 30_000, "threshold": 0.9, "episodes": 10},
}
"""Env name -> Gymnasium id, training steps, threshold on the greedy mean, test episodes."""

ALGOS = ("renshu-dqn", "renshu-ppo", "renshu-a2c", "sb3-dqn", "sb3-ppo", "sb3-a2c")
"""Each algorithm with its library's defaults."""


def register() -> None:
    """The two envs this benchmark names by ids of its own (runs in every worker on import)."""
    import gymnasium

    if "bench/FrozenLake4x4NotSlippery-v1" not in gymnasium.registry:
        gymnasium.register(
            "bench/FrozenLake4x4NotSlippery-v1",
            entry_point="gymnasium.envs.toy_text.frozen_lake:FrozenLakeEnv",
            kwargs={"map_name": "4x4", "is_slippery": False},
            max_episode_steps=100,  # FrozenLake-v1's own limit
        )
    if "bench/DelayedChain-v0" not in gymnasium.registry:
        gymnasium.register("bench/DelayedChain-v0", entry_point="renshu.envs.toy:DelayedChainEnv")


register()


def iqm(values: list[float]) -> float:
    """Interquartile mean: ``scipy.stats.trim_mean(values, 0.25)`` (a quarter of the sorted
    values cut from each end, rounded down; with 5 values, the middle 3)."""
    import numpy as np

    x = np.sort(np.asarray(values, dtype=np.float64))
    cut = int(0.25 * len(x))
    return float(x[cut : len(x) - cut].mean())


# ----------------------------------------------------------------------------- one run
def run(algo: str, env: str, seed: int) -> dict[str, Any]:
    """Train ``algo`` with its defaults on ``env`` for the env's budget, then test it greedily."""
    spec = ENVS[env]
    library, name = algo.split("-")
    started = time.perf_counter()
    if library == "renshu":
        import renshu

        agent = getattr(renshu, name.upper())(spec["id"], seed=seed)
        agent.fit(steps=spec["steps"], progress=False)
        predict: Any = agent.act
        steps = agent.num_steps
    else:
        import stable_baselines3

        model = getattr(stable_baselines3, name.upper())(
            "MlpPolicy", spec["id"], seed=seed, device="cpu", verbose=0
        )
        model.learn(total_timesteps=spec["steps"])
        predict = lambda obs: int(model.predict(obs, deterministic=True)[0])  # noqa: E731
        steps = int(model.num_timesteps)
    seconds = time.perf_counter() - started
    rewards = greedy_rewards(spec["id"], predict, 10_000 + seed, spec["episodes"])
    score = float(statistics.fmean(rewards))
    return {
        "algo": algo,
        "env": env,
        "seed": seed,
        "steps": steps,
        "seconds": seconds,
        "score": score,
        "solved": score >= spec["threshold"],
        "rewards": rewards,
    }


# ----------------------------------------------------------------------------- tables
def summary(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """env -> algo -> seeds run, seeds solved, IQM and every score."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for env in ENVS:
        for algo in ALGOS:
            mine = sorted(
                (r for r in runs if r["env"] == env and r["algo"] == algo), key=lambda r: r["seed"]
            )
            if mine:
                scores = [r["score"] for r in mine]
                table.setdefault(env, {})[algo] = {
                    "seeds": len(mine),
                    "solved": sum(r["solved"] for r in mine),
                    "iqm": iqm(scores),
                    "scores": scores,
                }
    return table


def markdown(table: dict[str, dict[str, dict[str, Any]]], title: str) -> str:
    """One row per env: its budget and threshold, then ``solved/seeds · IQM`` per algorithm."""
    algos = [a for a in ALGOS if any(a in row for row in table.values())]
    lines = [
        title,
        "",
        "| env | steps | threshold | " + " | ".join(algos) + " |",
        "|---|--:|--:|" + "--:|" * len(algos),
    ]
    for env, row in table.items():
        spec = ENVS[env]
        cells = []
        for algo in algos:
            cell = row.get(algo)
            cells.append(f"{cell['solved']}/{cell['seeds']} · {cell['iqm']:.4g}" if cell else "–")
        lines.append(
            f"| {env} | {spec['steps']:,} | {spec['threshold']:g} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "Each cell: seeds whose final greedy mean reaches the threshold / seeds run · IQM of "
        "the final greedy means (interquartile mean over seeds).",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="robustness", help="results/<name>.json and .md")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (one per process)")
    parser.add_argument("--algos", default=",".join(ALGOS))
    parser.add_argument("--envs", default=",".join(ENVS))
    args = parser.parse_args(argv)
    algos = args.algos.split(",")
    envs = args.envs.split(",")
    unknown = sorted(set(algos) - set(ALGOS)) + sorted(set(envs) - set(ENVS))
    if unknown:
        raise SystemExit(f"unknown algorithm or env {unknown}; choose from {ALGOS}, {list(ENVS)}")

    path = RESULTS / f"{args.name}.json"
    report: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {"runs": []}
    done = {(r["algo"], r["env"], r["seed"]) for r in report["runs"]}
    todo = [
        (algo, env, seed)
        for algo in algos
        for env in envs
        for seed in range(args.seeds)
        if (algo, env, seed) not in done
    ]
    print(f"robustness: {len(todo)} runs to go ({len(done)} already in {path.name})")

    def save() -> dict[str, Any]:
        table = summary(report["runs"])
        report.update(
            benchmark=args.name,
            system=system_info(),
            envs=ENVS,
            summary=table,
        )
        RESULTS.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
        tmp.replace(path)
        text = markdown(table, f"Defaults, {args.seeds} seeds each ({args.name}).")
        (RESULTS / f"{args.name}.md").write_text(text + "\n")
        return table

    context = multiprocessing.get_context("spawn")
    options: dict[str, Any] = {"initializer": worker_setup, "initargs": (1,)}
    if sys.version_info >= (3, 11):
        options["max_tasks_per_child"] = 1  # a new process for every run
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=context, **options) as pool:
        futures = {
            pool.submit(_run_in_worker, run, {"algo": a, "env": e, "seed": s}): (a, e, s)
            for a, e, s in todo
        }
        for future in concurrent.futures.as_completed(futures):
            try:
                result = future.result()
            except Exception as error:  # one failing run is recorded, the others go on
                algo, env, seed = futures[future]
                print(f"  {algo} {env} seed {seed}: FAILED {error!r}", flush=True)
                continue
            result.pop("threads", None)
            report["runs"].append(result)
            save()
            print(
                f"  {result['algo']:10s} {result['env']:11s} seed {result['seed']}: "
                f"{result['score']:9.2f} ({'solved' if result['solved'] else 'not solved'}, "
                f"{result['seconds']:.0f} s)",
                flush=True,
            )
    table = save()
    print(markdown(table, args.name))
    return report


if __name__ == "__main__":
    main()

"""DRQN's defaults on memory tasks: seeds solved out of N, at a stated budget.

Two envs that need memory, neither tuned for:

- ``masked_cartpole``: CartPole-v1 with the velocities dropped (observation indices 0 and 2 kept:
  cart position and pole angle), so a single frame does not say where the pole is going; 20,000
  env steps, 20 greedy episodes, solved at a mean of 195 (CartPole-v0's bar; the cap is 500).
- ``memory``: ``renshu.envs.toy.MemoryEnv(delay=10)``: a cue shown once must be recalled 11 steps
  later; 3,000 env steps, 200 greedy episodes, solved at a mean of 0.9 (chance: 0).

``renshu.DRQN(env, seed=s)`` with nothing else (``--set KEY=VALUE`` overrides an option for a
comparison); each run in a fresh process with one thread, one after another. Figures: each seed's
greedy mean and the training wall time.

    python benchmarks/drqn_learning.py                       # both envs, seeds 0-4
    python benchmarks/drqn_learning.py --envs memory --set value_rescale=false
    python benchmarks/drqn_learning.py --quick               # smoke test: tiny budgets

Writes ``benchmarks/results/drqn_learning.json`` and ``.md`` (``--name`` for another file).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import yaml
from _common import run_one, write_report

ENVS: dict[str, dict[str, Any]] = {
    "masked_cartpole": {"steps": 20_000, "episodes": 20, "threshold": 195.0},
    "memory": {"steps": 3_000, "episodes": 200, "threshold": 0.9},
}
TEST_SEED = 1


def make_env(name: str) -> Any:
    """The env ``name`` of :data:`ENVS`."""
    import gymnasium
    import numpy as np

    if name == "memory":
        from renshu.envs.toy import MemoryEnv

        return MemoryEnv(delay=10)
    env = gymnasium.make("CartPole-v1")
    keep = [0, 2]  # cart position, pole angle: the velocities are hidden
    low, high = env.observation_space.low[keep], env.observation_space.high[keep]  # type: ignore[attr-defined]
    space = gymnasium.spaces.Box(low, high, dtype=np.float32)
    return gymnasium.wrappers.TransformObservation(
        env, lambda obs: np.asarray(obs[keep], dtype=np.float32), space
    )


def train_one(env: str, seed: int, steps: int, episodes: int, options: dict[str, Any]) -> dict:
    """Train DRQN's defaults (plus ``options``) on ``env``; its greedy mean and wall time."""
    import renshu

    agent = renshu.DRQN(make_env(env), seed=seed, **options)
    start = time.perf_counter()
    agent.fit(steps=steps, progress=False)
    seconds = time.perf_counter() - start
    score = float(agent.test(episodes=episodes, seed=TEST_SEED, progress=False).mean())
    return {"env": env, "seed": seed, "steps": steps, "score": score, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", choices=list(ENVS), default=list(ENVS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--name", default="drqn_learning")
    parser.add_argument("--quick", action="store_true", help="tiny budgets (a smoke test)")
    args = parser.parse_args()
    options = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}

    rows: list[dict[str, Any]] = []
    lines = [
        "| env | budget (env steps) | seeds solved | greedy mean per seed | median | "
        "training s per seed |",
        "|---|--:|--:|---|--:|---|",
    ]
    for env in args.envs:
        spec = ENVS[env]
        steps = 300 if args.quick else spec["steps"]
        runs = []
        for seed in args.seeds:
            result = run_one(
                train_one,
                env=env,
                seed=seed,
                steps=steps,
                episodes=3 if args.quick else spec["episodes"],
                options=options,
            )
            print(f"  {env} seed {seed}: {result['score']:.2f} in {result['seconds']:.0f} s")
            runs.append(result)
        scores = [r["score"] for r in runs]
        solved = sum(s >= spec["threshold"] for s in scores)
        rows.append({"env": env, "threshold": spec["threshold"], "runs": runs, "solved": solved})
        lines.append(
            f"| {env} | {steps:,} | {solved} of {len(runs)} | "
            + ", ".join(f"{s:.1f}" if env != "memory" else f"{s:.2f}" for s in scores)
            + f" | {statistics.median(scores):.2f} | "
            + ", ".join(f"{r['seconds']:.0f}" for r in runs)
            + " |"
        )
    shown = ", ".join(f"{k}={v}" for k, v in options.items()) or "none"
    markdown = "\n".join([f"DRQN defaults, options set: {shown}", "", *lines])
    print(markdown)
    write_report(args.name, {"options": options, "rows": rows}, markdown)


if __name__ == "__main__":
    main()

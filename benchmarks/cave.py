"""Cave: what ends the episodes. Survival and the cause of every crash, controllers and agents.

Cave-v0's ``info["crash"]`` says what the player hit on the frame that ended an episode:
``"wall"`` (a wall or the screen's edge) or ``"block"``. For each row: the median and mean
frames survived over 100 greedy episodes, the fraction truncated at the cap (2,000 frames), and
how the crashes split between blocks and walls.

- Controllers (``random``, ``gap_centre``, ``scripted``): the first episode of each of 100
  copies of the batched twin, seeded like ``benchmarks/env_scores.py``.
- Agents (``dqn``, ``ppo``): trained with the algorithm's Cave preset
  (``src/renshu/presets/cave.yaml``: a CNN on a window of 4 frames) at the preset's budget, seed
  0, then ``agent.test(episodes=100, seed=1)`` (greedy, one env, the episodes one after another).
  Each training runs alone in a fresh process with torch and BLAS pinned to one thread
  (``_common.run_one``); they run one after another, never side by side.
- ``drqn`` (DRQN, window 1, its own preset section) and ``recurrent_ppo`` (PPO with
  ``recurrent=True``) are measured once renshu has them; until then their rows say "not measured
  yet".
- ``--seeds 0 1 2`` trains every agent row once per seed: the row's median is the median of the
  seeds' greedy medians, its other figures pool the episodes of all seeds, and the seeds' own
  medians and block fractions are listed under the table.

Rows not named in ``--rows`` keep the figures of the JSON already there, so one row can be
measured again (or added) without re-running the others (``--rows`` alone rewrites the table).

Bars (the report's ``bars``, gathered by ``run_all.py``): the best agent's greedy median reaches
1,000 frames with fewer than half of its crashes into blocks; once DRQN is measured, DRQN on
single frames beats DQN on 4 frames at the same step budget.

    python benchmarks/cave.py                                  # every row (~20 min on 2 CPUs)
    python benchmarks/cave.py --rows random gap_centre scripted  # controllers only (seconds)
    python benchmarks/cave.py --rows drqn --steps 300000       # one agent, another budget
    python benchmarks/cave.py --rows dqn --steps 150000 300000 600000  # a learning curve
    python benchmarks/cave.py --rows dqn drqn --steps 30000 --seeds 0 1 2  # equal budgets
    python benchmarks/cave.py --quick                          # smoke test: tiny budgets

Writes ``benchmarks/results/cave.json`` and ``benchmarks/results/cave.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from typing import Any

from _common import RESULTS, run_one, verdict, write_report

ENV = "cave"
EPISODES = 100
TRAIN_SEED = 0
TEST_SEED = 1
CONTROLLER_SEED = 0
NOT_MEASURED = "not measured yet"


@dataclass(frozen=True)
class Row:
    """One line of the table: a controller, or an algorithm trained from its Cave preset."""

    label: str
    """What the table calls it."""
    controller: str | None = None
    """A controller of ``renshu.envs.cave`` (``random`` draws uniform actions), or None."""
    algo: str | None = None
    """An algorithm of ``renshu.agents.ALGORITHMS`` trained from its ``cave`` preset."""
    preset: str = "dqn"
    """The preset section the agent's settings come from."""
    options: dict[str, Any] = field(default_factory=dict)
    """Options laid over the preset's config."""
    requires: str | None = None
    """A config field the algorithm must have for this row to run (else: not measured yet)."""


ROWS: dict[str, Row] = {
    "random": Row("random", controller="random"),
    "gap_centre": Row("gap-centre controller (blind to blocks)", controller="gap_centre_policy"),
    "scripted": Row("scripted planner (look-ahead)", controller="scripted_policy"),
    "dqn": Row("DQN, window 4 (cave preset)", algo="dqn", preset="dqn"),
    "ppo": Row("PPO, window 4 (cave preset)", algo="ppo", preset="ppo"),
    "drqn": Row("DRQN, window 1 (cave preset)", algo="drqn", preset="drqn"),
    "recurrent_ppo": Row(
        "recurrent PPO, window 1",
        algo="ppo",
        preset="ppo",
        options={"window": 1, "recurrent": True},
        requires="recurrent",
    ),
}


# ----------------------------------------------------------------------------- measuring
def summary(frames: list[float], causes: list[str | None], truncated: list[bool]) -> dict[str, Any]:
    """Median, mean and spread of the frames survived; crash causes as counts and fractions."""
    import numpy as np

    crashes = [c for c in causes if c is not None]
    blocks, walls = crashes.count("block"), crashes.count("wall")
    return {
        "episodes": len(frames),
        "median": float(np.median(frames)),
        "mean": float(np.mean(frames)),
        "std": float(np.std(frames)),
        "truncated_fraction": float(np.mean(truncated)),
        "crashes": len(crashes),
        "block_crashes": blocks,
        "wall_crashes": walls,
        "block_fraction": blocks / len(crashes) if crashes else None,
        "wall_fraction": walls / len(crashes) if crashes else None,
    }


def run_controller(name: str, episodes: int, seed: int) -> dict[str, Any]:
    """The first episode of each of ``episodes`` copies of the twin under a controller."""
    import gymnasium
    import numpy as np

    from renshu.envs import cave

    envs = gymnasium.make_vec(
        "renshu/Cave-v0", num_envs=episodes, vectorization_mode="vector_entry_point"
    )
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    policy = None if name == "random" else getattr(cave, name)
    obs, info = envs.reset(seed=seed)
    frames = np.zeros(episodes)
    causes: list[str | None] = [None] * episodes
    truncated_first = np.zeros(episodes, dtype=bool)
    done = np.zeros(episodes, dtype=bool)
    started = time.perf_counter()
    while not done.all():
        actions = rng.integers(0, 2, episodes) if policy is None else policy(obs, info)
        obs, reward, terminated, truncated, info = envs.step(actions)
        frames += np.where(done, 0.0, reward)
        for e in np.flatnonzero(terminated & ~done):
            causes[e] = str(info["crash"][e])
        truncated_first |= truncated & ~done
        done |= terminated | truncated
    envs.close()
    result = summary(frames.tolist(), causes, truncated_first.tolist())
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def run_agent(
    algo: str,
    preset: str,
    options: dict[str, Any],
    steps: list[int] | None,
    episodes: int,
    seed: int,
) -> dict[str, Any]:
    """Train ``algo`` from the Cave preset (plus ``options``) and test it greedily at each of the
    budgets ``steps`` in turn (one agent trained on: the second budget continues the first), or
    once at the preset's budget; ``{"runs": [one result per budget]}``."""
    import renshu
    from renshu import presets
    from renshu.agents import get
    from renshu.callbacks import Callback

    settings = presets.load(ENV, preset)
    config = {**settings.config, **options}
    budgets = sorted(steps) if steps else [settings.steps]
    agent = get(algo).agent_class()(ENV, seed=seed, **config)

    class Crashes(Callback):
        """Frames, crash cause and truncation of every test episode."""

        def __init__(self) -> None:
            self.causes: list[str | None] = []
            self.truncated: list[bool] = []

        def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
            if logs["terminated"]:
                self.causes.append(logs["info"].get("crash"))
                self.truncated.append(False)
            elif logs["truncated"]:
                self.causes.append(None)
                self.truncated.append(True)

    results: list[dict[str, Any]] = []
    train_seconds, trained = 0.0, 0
    for budget in budgets:
        started = time.perf_counter()
        agent.fit(steps=budget - trained, progress=False)
        train_seconds += time.perf_counter() - started
        trained = budget
        crashes = Crashes()
        started = time.perf_counter()
        history = agent.test(episodes=episodes, seed=TEST_SEED, callbacks=[crashes], progress=False)
        frames = [float(x) for x in history.history["episode_reward"]]
        result = summary(frames, crashes.causes, crashes.truncated)
        result.update(
            algo=algo,
            preset=f"{ENV}.yaml:{preset}",
            config=config,
            steps=budget,
            train_seconds=round(train_seconds, 1),
            test_seconds=round(time.perf_counter() - started, 1),
            train_steps_per_s=round(budget / train_seconds, 1),
            renshu=renshu.__version__,
        )
        results.append(result)
        shown = {k: result[k] for k in ("median", "block_fraction", "train_seconds")}
        print(f"    {algo}, seed {seed}, {budget:,} steps: {shown}", flush=True)
    return {"runs": results}


def over_seeds(runs: list[dict[str, Any]], seeds: list[int]) -> dict[str, Any]:
    """One row from one run per seed: the median of the seeds' medians; the crashes, the
    truncations and the mean over all their episodes; the median training time."""
    import numpy as np

    n = sum(r["episodes"] for r in runs)
    crashes = sum(r["crashes"] for r in runs)
    blocks = sum(r["block_crashes"] for r in runs)
    walls = sum(r["wall_crashes"] for r in runs)
    means = np.array([r["mean"] for r in runs])
    weights = np.array([r["episodes"] for r in runs]) / n
    mean = float(weights @ means)
    second = float(weights @ (np.array([r["std"] for r in runs]) ** 2 + means**2))
    return {
        **{k: runs[0][k] for k in ("algo", "preset", "config", "steps", "renshu")},
        "seeds": seeds,
        "per_seed": runs,
        "episodes": n,
        "median": float(np.median([r["median"] for r in runs])),
        "mean": mean,
        "std": float(np.sqrt(max(second - mean**2, 0.0))),
        "truncated_fraction": float(weights @ np.array([r["truncated_fraction"] for r in runs])),
        "crashes": crashes,
        "block_crashes": blocks,
        "wall_crashes": walls,
        "block_fraction": blocks / crashes if crashes else None,
        "wall_fraction": walls / crashes if crashes else None,
        "train_seconds": float(np.median([r["train_seconds"] for r in runs])),
        "train_steps_per_s": float(np.median([r["train_steps_per_s"] for r in runs])),
    }


def available(row: Row) -> bool:
    """Whether renshu has what ``row`` needs (its algorithm, the config field it sets)."""
    import dataclasses

    from renshu import agents

    if row.algo is None:
        return True
    if row.algo not in agents.ALGORITHMS:
        return False
    if row.requires is None:
        return True
    config_class = agents.get(row.algo).config_class()
    return row.requires in {f.name for f in dataclasses.fields(config_class)}


# ----------------------------------------------------------------------------- reporting
def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def markdown(rows: dict[str, dict[str, Any]], episodes: int) -> str:
    lines = [
        f"Cave-v0, {episodes} greedy episodes per row (cap 2,000 frames). Controllers: the first "
        f"episode of each of {episodes} copies of the twin (seed {CONTROLLER_SEED}); agents: "
        f"trained from their Cave preset (seed {TRAIN_SEED} unless listed below, one thread), "
        f"then `agent.test(episodes={episodes}, seed={TEST_SEED})`; along a curve one agent "
        'trains on from one budget to the next. Crashes split by `info["crash"]`. Training: '
        "wall time of `fit` up to that budget on this machine, shared and busy, at times with "
        "another training beside it: a rough guide, not a speed figure (the JSON records the "
        "load).",
        "",
        "| Player | Budget (env steps) | Training | Median frames | Mean ± std | Truncated | "
        "Crashes into blocks | into walls |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    entries = [(key, row, rows.get(key, {"status": NOT_MEASURED})) for key, row in ROWS.items()]
    for key, row in ROWS.items():  # then the same agents at other budgets (``--steps``)
        entries += [(k, row, rows[k]) for k in sorted(rows, key=_budget) if _row(k) == key != k]
    for _, row, result in entries:
        if result.get("status") == NOT_MEASURED:
            lines.append(f"| {row.label} | – | – | {NOT_MEASURED} | – | – | – | – |")
            continue
        budget = f"{result['steps']:,}" if "steps" in result else "–"
        seconds = result.get("train_seconds")
        training = "–" if seconds is None else f"{seconds / 60:.1f} min"
        lines.append(
            f"| {row.label} | {budget} | {training} | {result['median']:g} | "
            f"{result['mean']:.1f} ± {result['std']:.1f} | "
            f"{percent(result['truncated_fraction'])} | {percent(result['block_fraction'])} "
            f"({result['block_crashes']}) | {percent(result['wall_fraction'])} "
            f"({result['wall_crashes']}) |"
        )
    notes = [
        f"- {ROWS[_row(key)].label}, {result['steps']:,} steps, seeds "
        + ", ".join(map(str, result["seeds"]))
        + ": greedy medians "
        + ", ".join(f"{r['median']:g}" for r in result["per_seed"])
        + "; crashes into blocks "
        + ", ".join(percent(r["block_fraction"]) for r in result["per_seed"])
        for key, result in rows.items()
        if _row(key) in ROWS and "per_seed" in result
    ]
    if notes:
        lines += ["", "Agents trained on several seeds (the row: median of their medians):", ""]
        lines += notes
    return "\n".join(lines)


def _row(key: str) -> str:
    """The row of a stored result: ``dqn`` for ``dqn`` and ``dqn@30000``."""
    return key.split("@")[0]


def _budget(key: str) -> int:
    return int(key.split("@")[1]) if "@" in key else 0


def bars(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The feature's bars on what is measured (an agent row's figures)."""
    agents = {
        key: result
        for key, result in rows.items()
        if ROWS[_row(key)].algo is not None and result.get("status") == "measured"
    }
    out: dict[str, dict[str, Any]] = {}
    if agents:
        key = max(agents, key=lambda k: agents[k]["median"])
        best = agents[key]
        blocks = best["block_fraction"]
        out["best_agent"] = {
            "text": "cave: best agent's greedy median >= 1,000 frames with < 50% of its crashes "
            f"into blocks; best: {ROWS[_row(key)].label} ({best['steps']:,} steps)",
            "value": f"{best['median']:g} frames, {percent(blocks)} into blocks",
            "met": best["median"] >= 1_000 and (blocks is None or blocks < 0.5),
        }
    pairs = [
        (agents[d], agents[q])
        for d in agents
        for q in agents
        if _row(d) == "drqn" and _row(q) == "dqn" and agents[d]["steps"] == agents[q]["steps"]
    ]
    if pairs:  # the largest budget both were measured at
        drqn_result, dqn_result = max(pairs, key=lambda pair: pair[0]["steps"])
        drqn, dqn = drqn_result["median"], dqn_result["median"]
        out["drqn_over_dqn"] = {
            "text": f"cave: DRQN (1 frame) median > DQN (4 frames) median at "
            f"{dqn_result['steps']:,} steps",
            "value": f"{drqn:g} vs {dqn:g}",
            "met": drqn > dqn,
        }
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        nargs="*",
        choices=list(ROWS),
        default=list(ROWS),
        help="rows to measure (the others keep their stored figures; none: rewrite the table)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=None,
        help="training budgets of the agents (default: the preset's); with several, one agent "
        "per seed trains on from one budget to the next and is tested at each",
    )
    parser.add_argument("--episodes", type=int, default=EPISODES)
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[TRAIN_SEED], help="training seeds of the agents"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 2,000 steps, 5 episodes, no files"
    )
    args = parser.parse_args(argv)
    steps, episodes = ([2_000], 5) if args.quick else (args.steps, args.episodes)

    from renshu import presets

    path = RESULTS / "cave.json"
    previous = json.loads(path.read_text()).get("rows", {}) if path.exists() else {}
    rows: dict[str, dict[str, Any]] = {k: v for k, v in previous.items() if _row(k) in ROWS}
    for key in args.rows:
        row = ROWS[key]
        # an agent at a budget other than its preset's is a row of its own: "dqn@30000"
        measured: dict[str, dict[str, Any]] = {}
        if row.controller is not None:
            measured[key] = run_one(
                run_controller, name=row.controller, episodes=episodes, seed=CONTROLLER_SEED
            )
        elif not available(row):
            measured[key] = {"status": NOT_MEASURED}
        else:
            assert row.algo is not None
            per_budget: list[list[dict[str, Any]]] = []  # [seed][budget]
            for seed in args.seeds:
                runs = run_one(
                    run_agent,
                    algo=row.algo,
                    preset=row.preset,
                    options=row.options,
                    steps=steps,
                    episodes=episodes,
                    seed=seed,
                )["runs"]
                per_budget.append(runs)
                for run in runs:
                    shown = {k: run[k] for k in ("median", "block_fraction", "train_seconds")}
                    print(f"  {key} seed {seed} at {run['steps']:,}: {shown}", flush=True)
            preset_steps = presets.load(ENV, row.preset).steps
            for at, first in enumerate(per_budget[0]):
                runs = [seed_runs[at] for seed_runs in per_budget]
                name = key if first["steps"] == preset_steps else f"{key}@{first['steps']}"
                measured[name] = runs[0] if len(runs) == 1 else over_seeds(runs, args.seeds)
        for name, result in measured.items():
            result.setdefault("status", "measured")
            result["label"] = row.label
            rows[name] = result
            shown = {k: result[k] for k in ("median", "mean", "block_fraction") if k in result}
            print(f"{name}: {result['status']} {shown}", flush=True)
    table = markdown(rows, episodes)
    report = {"episodes": episodes, "rows": rows, "bars": bars(rows)}
    if report["bars"]:
        table += "\n\n" + "\n".join(
            f"- {bar['text']}: {bar['value']}, {verdict(bar['met'])}"
            for bar in report["bars"].values()
        )
    print(table)
    if not args.quick:
        write_report("cave", report, table)
    return report


if __name__ == "__main__":
    main()

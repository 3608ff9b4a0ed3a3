"""Recurrent PPO: steps/s on CartPole-v1 next to memoryless PPO and sb3-contrib's RecurrentPPO.

The same PPO settings for all three (8 envs, n_steps 128, batch 256, 4 epochs, lr 3e-4, the
default 64x64 tanh MLP; no observation normalization), each run in a fresh process with one
thread, taking turns (see ``_common.alternate``): renshu ``PPO(recurrent=True, lstm_size=128)``
(the MLP torso, one LSTM of 128 units shared by policy and value, sequences of 32 steps),
renshu's memoryless ``PPO`` and, when installed (the ``bench`` extra; a benchmark peer,
not a dependency), sb3-contrib's ``RecurrentPPO`` with one shared LSTM of 128 units
(``shared_lstm=True, enable_critic_lstm=False``; its sequences are the episodes inside each
rollout). Measured: env steps per second of ``fit``/``learn`` (construction excluded). Goal:
recurrent PPO at least 5x RecurrentPPO's steps/s (ratio of medians).

DRQN's speed (``--parts drqn``, written to ``results/drqn_speed.*``): env steps per second on
Cave (the CNN, 8 envs, the DQN preset's settings: double, 1-step returns, lr 2.5e-4) of DQN on
4 frames (batch 32 every 4 env steps, as its preset) next to DRQN on single frames (sequences of
20 steps after a burn-in of 10, LSTM 128): with DQN's batch of 32 every 4 env steps, and with
DRQN's own defaults (32 sequences every 8 env steps). Each run: ``fit`` over the warm-up
(1,000 steps, untimed), then ``fit`` over ``--cave-steps`` timed, one thread, taking turns.

    python benchmarks/recurrent_ppo.py [--repeats 3] [--steps 20000]
    python benchmarks/recurrent_ppo.py --parts drqn [--repeats 3] [--cave-steps 3000]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from typing import Any

from _common import alternate, fmt, spread, verdict, write_report

ENV = "CartPole-v1"
SETTINGS: dict[str, Any] = {"n_steps": 128, "batch_size": 256, "n_epochs": 4, "learning_rate": 3e-4}
ENVS = 8
LSTM = 128
BAR = 5.0


def run_renshu(steps: int, recurrent: bool) -> dict[str, Any]:
    import renshu

    memory = {"recurrent": True, "lstm_size": LSTM} if recurrent else {}
    agent = renshu.PPO(ENV, seed=0, num_envs=ENVS, normalize_obs=False, **SETTINGS, **memory)
    started = time.perf_counter()
    agent.fit(steps=steps, progress=False)
    seconds = time.perf_counter() - started
    return {"steps": agent.num_steps, "seconds": seconds, "steps_per_s": agent.num_steps / seconds}


def run_sb3_contrib(steps: int) -> dict[str, Any]:
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env

    policy_kwargs = {"lstm_hidden_size": LSTM, "shared_lstm": True, "enable_critic_lstm": False}
    model = RecurrentPPO(
        "MlpLstmPolicy",
        make_vec_env(ENV, n_envs=ENVS, seed=0),
        **SETTINGS,
        policy_kwargs=policy_kwargs,
        seed=0,
        device="cpu",
        verbose=0,
    )
    started = time.perf_counter()
    model.learn(total_timesteps=steps)
    seconds = time.perf_counter() - started
    steps_done = int(model.num_timesteps)
    return {"steps": steps_done, "seconds": seconds, "steps_per_s": steps_done / seconds}


CAVE = "cave"
CAVE_WARMUP = 1_000
CAVE_RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    "dqn": ("dqn", {"window": 4}),
    "drqn_every_4": ("drqn", {"window": 1, "batch_size": 32, "train_every": 4}),
    "drqn_defaults": ("drqn", {"window": 1, "batch_size": 32, "train_every": 8}),
}
CAVE_LABELS = {
    "dqn": "DQN, window 4, batch 32 every 4 env steps",
    "drqn_every_4": "DRQN, window 1, 32 sequences every 4 env steps",
    "drqn_defaults": "DRQN, window 1, 32 sequences every 8 env steps (its defaults)",
}


def run_cave(steps: int, algo: str, options: dict[str, Any]) -> dict[str, Any]:
    """Steps/s of ``fit`` on Cave after the warm-up, from the DQN preset's settings."""
    from renshu import presets
    from renshu.agents import get

    config = {**presets.load(CAVE, "dqn").config, "warmup_steps": CAVE_WARMUP, **options}
    if algo == "drqn":
        config.update(seq_len=20, burn_in=10, lstm_size=128)
    agent = get(algo).agent_class()(CAVE, seed=0, **config)
    agent.fit(steps=CAVE_WARMUP, progress=False)
    started = time.perf_counter()
    agent.fit(steps=steps, progress=False)
    seconds = time.perf_counter() - started
    done = agent.num_steps - CAVE_WARMUP
    return {"steps": done, "seconds": seconds, "steps_per_s": done / seconds, "config": config}


def drqn_speed(repeats: int, steps: int) -> None:
    """DRQN against DQN on Cave: steps/s, one script run, taking turns."""
    tasks: dict[str, Any] = {
        name: (run_cave, {"steps": steps, "algo": algo, "options": options})
        for name, (algo, options) in CAVE_RUNS.items()
    }
    results = alternate(tasks, repeats)
    stats = {name: spread([r["steps_per_s"] for r in runs]) for name, runs in results.items()}
    lines = [
        f"# DRQN and DQN on Cave: steps/s ({repeats} runs each, alternating)",
        "",
        f"CNN, 8 envs, the DQN preset's settings, {steps:,} steps a run after {CAVE_WARMUP:,} "
        "warm-up steps, one thread.",
        "",
        "| agent | steps/s median (min-max) |",
        "|---|---|",
    ]
    lines += [f"| {CAVE_LABELS[name]} | {fmt(s, 1)} |" for name, s in stats.items()]
    ratio = stats["dqn"]["median"] / stats["drqn_defaults"]["median"]
    lines += ["", f"DQN over DRQN with its defaults: {ratio:.1f}x."]
    report = {"results": results, "stats": stats, "dqn_over_drqn": ratio}
    write_report("drqn_speed", report, "\n".join(lines))
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the parts asked for; the recurrent PPO report (with its bar), or {} without it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--parts", nargs="+", choices=["ppo", "drqn"], default=["ppo"])
    parser.add_argument("--cave-steps", type=int, default=3_000)
    args = parser.parse_args(argv)
    if "drqn" in args.parts:
        drqn_speed(args.repeats, args.cave_steps)
    return recurrent_ppo(args.repeats, args.steps) if "ppo" in args.parts else {}


def recurrent_ppo(repeats: int, steps: int) -> dict[str, Any]:
    """Recurrent PPO against memoryless PPO and sb3-contrib on CartPole."""
    tasks: dict[str, Any] = {
        "recurrent": (run_renshu, {"steps": steps, "recurrent": True}),
        "plain": (run_renshu, {"steps": steps, "recurrent": False}),
    }
    if importlib.util.find_spec("sb3_contrib") is not None:
        tasks["sb3-contrib"] = (run_sb3_contrib, {"steps": steps})
    results = alternate(tasks, repeats)
    stats = {name: spread([r["steps_per_s"] for r in runs]) for name, runs in results.items()}
    lines = [
        f"# Recurrent PPO on {ENV}: steps/s ({repeats} runs each, alternating)",
        "",
        f"{ENVS} envs, {SETTINGS}, LSTM {LSTM} units, {steps:,} steps a run, one thread.",
        "",
        "| agent | steps/s median (min-max) |",
        "|---|---|",
    ]
    labels = {
        "recurrent": "renshu PPO(recurrent=True)",
        "plain": "renshu PPO",
        "sb3-contrib": "sb3-contrib RecurrentPPO",
    }
    lines += [f"| {labels[name]} | {fmt(s)} |" for name, s in stats.items()]
    ratio = stats["recurrent"]["median"] / stats["plain"]["median"]
    lines += ["", f"Recurrent over memoryless renshu PPO: {ratio:.2f}x."]
    report: dict[str, Any] = {"results": results, "stats": stats, "recurrent_over_plain": ratio}
    if "sb3-contrib" in stats:
        peer = stats["recurrent"]["median"] / stats["sb3-contrib"]["median"]
        report["recurrent_over_sb3_contrib"] = peer
        report["bars"] = {
            "over_sb3_contrib": {
                "text": f"recurrent PPO steps/s >= {BAR:.0f}x sb3-contrib RecurrentPPO's",
                "value": peer,
                "met": peer >= BAR,
            }
        }
        lines.append(
            f"Recurrent PPO over sb3-contrib RecurrentPPO: {peer:.1f}x (goal >= {BAR:.0f}x: "
            f"{verdict(peer >= BAR)})."
        )
    else:
        lines.append("sb3-contrib is not installed: `pip install sb3-contrib` to compare.")
    write_report("recurrent_ppo", report, "\n".join(lines))
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()

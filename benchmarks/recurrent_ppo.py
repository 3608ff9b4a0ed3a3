"""Recurrent PPO: steps/s on CartPole-v1 next to memoryless PPO and sb3-contrib's RecurrentPPO.

The same PPO settings for all three (8 envs, n_steps 128, batch 256, 4 epochs, lr 3e-4, the
default 64x64 tanh MLP; no observation normalization), each run in a fresh process with one
thread, taking turns (see ``_common.alternate``): renshu ``PPO(recurrent=True, lstm_size=128)``
(the MLP torso, one LSTM of 128 units shared by policy and value, sequences of 32 steps),
renshu's memoryless ``PPO`` and, when installed (``pip install sb3-contrib``; a benchmark peer,
not a dependency), sb3-contrib's ``RecurrentPPO`` with one shared LSTM of 128 units
(``shared_lstm=True, enable_critic_lstm=False``; its sequences are the episodes inside each
rollout). Measured: env steps per second of ``fit``/``learn`` (construction excluded). Goal:
recurrent PPO at least 5x RecurrentPPO's steps/s (ratio of medians).

    python benchmarks/recurrent_ppo.py [--repeats 3] [--steps 20000]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    tasks: dict[str, Any] = {
        "recurrent": (run_renshu, {"steps": args.steps, "recurrent": True}),
        "plain": (run_renshu, {"steps": args.steps, "recurrent": False}),
    }
    if importlib.util.find_spec("sb3_contrib") is not None:
        tasks["sb3-contrib"] = (run_sb3_contrib, {"steps": args.steps})
    results = alternate(tasks, args.repeats)
    stats = {name: spread([r["steps_per_s"] for r in runs]) for name, runs in results.items()}
    lines = [
        f"# Recurrent PPO on {ENV}: steps/s ({args.repeats} runs each, alternating)",
        "",
        f"{ENVS} envs, {SETTINGS}, LSTM {LSTM} units, {args.steps:,} steps a run, one thread.",
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
        lines.append(
            f"Recurrent PPO over sb3-contrib RecurrentPPO: {peer:.1f}x (goal >= {BAR:.0f}x: "
            f"{verdict(peer >= BAR)})."
        )
    else:
        lines.append("sb3-contrib is not installed: `pip install sb3-contrib` to compare.")
    write_report("recurrent_ppo", report, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Pixels: DQN with a CNN and a 4-frame window on Catch 16x16 and Cave 48x48.

Env steps per second (training every 4 env steps, batch 32) and replay memory per stored
transition, renshu and Stable-Baselines3 with identical settings and the same network (SB3 gets
renshu's conv torso as its features extractor; it stacks frames with Gymnasium's
``FrameStackObservation``, zero-padded like renshu's window). The replay is filled past its
capacity, so the bytes are those of a full buffer. Bar: renshu's bytes per stored transition <=
1.1x one uint8 frame plus the scalar fields (action int64, reward float32, terminated,
truncated), whatever the window.

    python benchmarks/pixels.py [--repeats 3] [--steps 6000]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _common import RESULTS, alternate, fmt, plot_bars, require_sb3, spread, verdict, write_report

ENVS = {"catch16": "Catch-v0 16x16", "cave": "Cave-v0 48x48"}
WINDOW = 4
SCALAR_BYTES = 8 + 4 + 1 + 1  # action (int64), reward (float32), terminated, truncated
BAR = 1.1
COMMON: dict[str, Any] = {
    "learning_rate": 2.5e-4,
    "gamma": 0.99,
    "buffer_size": 5_000,
    "batch_size": 32,
    "warmup_steps": 1_000,
    "train_every": 4,
    "gradient_steps": 1,
    "target_update": 1_000,
    "eps_start": 1.0,
    "eps_end": 0.05,
    "eps_anneal_steps": 5_000,
    "max_grad_norm": 10.0,
}


def run_renshu(name: str, seed: int, steps: int) -> dict[str, Any]:
    import numpy as np

    import renshu

    plain = {"double": False, "n_step": 1}  # as SB3's DQN
    agent = renshu.DQN(name, seed=seed, window=WINDOW, net="cnn", **plain, **COMMON)
    started = time.perf_counter()
    agent.fit(steps=steps, progress=False)
    seconds = time.perf_counter() - started
    frame = agent.observation_space
    return {
        "steps": agent.num_steps,
        "seconds": seconds,
        "steps_per_s": agent.num_steps / seconds,
        "frame_bytes": int(np.prod(frame.shape)) * frame.dtype.itemsize,
        "replay_bytes": agent.buffer.nbytes,
        "stored": len(agent.buffer),
        "bytes_per_transition": agent.buffer.nbytes / len(agent.buffer),
        "params": sum(p.numel() for p in agent.q_network.parameters()),
    }


def run_sb3(name: str, seed: int, steps: int) -> dict[str, Any]:
    import gymnasium
    import numpy as np
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    import renshu
    from renshu.nets import build_q_network

    class RenshuTorso(BaseFeaturesExtractor):  # type: ignore[misc]
        """renshu's CNN torso (conv layers, flatten, dense + ReLU) as SB3's extractor."""

        def __init__(self, observation_space: gymnasium.spaces.Box, n_actions: int) -> None:
            net = build_q_network(observation_space.shape, np.dtype(np.uint8), n_actions)
            features = [m for m in net.torso if isinstance(m, torch.nn.Linear)][-1].out_features
            super().__init__(observation_space, features)
            self.torso = net.torso

        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            return self.torso(obs)  # type: ignore[no-any-return]

    env = gymnasium.wrappers.FrameStackObservation(renshu.make(name), WINDOW, padding_type="zero")
    c = COMMON
    model = DQN(
        "CnnPolicy",
        env,
        seed=seed,
        device="cpu",
        verbose=0,
        learning_rate=c["learning_rate"],
        gamma=c["gamma"],
        buffer_size=c["buffer_size"],
        batch_size=c["batch_size"],
        learning_starts=c["warmup_steps"],
        train_freq=c["train_every"],
        gradient_steps=c["gradient_steps"],
        target_update_interval=c["target_update"],
        exploration_initial_eps=c["eps_start"],
        exploration_final_eps=c["eps_end"],
        exploration_fraction=c["eps_anneal_steps"] / steps,
        max_grad_norm=c["max_grad_norm"],
        policy_kwargs={
            "features_extractor_class": RenshuTorso,
            "features_extractor_kwargs": {"n_actions": int(env.action_space.n)},
            "net_arch": [],
        },
    )
    started = time.perf_counter()
    model.learn(total_timesteps=steps)
    seconds = time.perf_counter() - started
    buffer = model.replay_buffer
    arrays = [
        getattr(buffer, name)
        for name in ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")
        if getattr(buffer, name, None) is not None
    ]
    replay_bytes = int(sum(a.nbytes for a in arrays))
    frame = env.unwrapped.observation_space
    return {
        "steps": model.num_timesteps,
        "seconds": seconds,
        "steps_per_s": model.num_timesteps / seconds,
        "frame_bytes": int(np.prod(frame.shape)) * frame.dtype.itemsize,
        "replay_bytes": replay_bytes,
        "stored": buffer.buffer_size if buffer.full else buffer.pos,
        "bytes_per_transition": replay_bytes / buffer.buffer_size,
        "params": sum(p.numel() for p in model.q_net.parameters()),
    }


def window_sweep() -> list[dict[str, Any]]:
    """renshu's bytes per transition for windows 1-16 on 48x48 frames (synthetic episodes)."""
    import gymnasium
    import numpy as np

    from renshu.replay import ReplayBuffer

    rows = []
    space = gymnasium.spaces.Box(0, 255, (48, 48), np.uint8)
    frame = np.zeros((1, 48, 48), np.uint8)
    no, yes = np.zeros(1, bool), np.ones(1, bool)
    for window in (1, 4, 8, 16):
        buffer = ReplayBuffer(2_000, space, window=window, seed=0)
        for step in range(3_000):  # 100-step episodes, past the capacity
            buffer.add(frame, np.zeros(1), np.ones(1), frame, no, yes if step % 100 == 99 else no)
        per = buffer.nbytes / len(buffer)
        rows.append(
            {"window": window, "bytes_per_transition": per, "ratio": per / (48 * 48 + SCALAR_BYTES)}
        )
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=6_000)
    args = parser.parse_args(argv)
    require_sb3()
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for name in ENVS:
        print(f"pixels: {name}, CNN, window {WINDOW}, {args.steps} steps, {args.repeats} repeats")
        runs[name] = alternate(
            {
                "renshu": (run_renshu, {"name": name, "steps": args.steps}),
                "sb3": (run_sb3, {"name": name, "steps": args.steps}),
            },
            args.repeats,
            seeds=list(range(args.repeats)),
        )
    sweep = window_sweep()
    lines = [
        f"CNN Q-network (renshu's, in both libraries), a {WINDOW}-frame window, batch 32, one "
        f"gradient step every 4 env steps, replay of {COMMON['buffer_size']:,} transitions "
        f"(filled), {args.steps:,} env steps; median (min–max) of {args.repeats} runs, taking "
        "turns. Bytes per stored transition = replay memory / transitions stored; the bar's "
        f"yardstick is one uint8 frame + {SCALAR_BYTES} bytes of scalar fields.",
        "",
        "| Env | Library | Env steps/s | Replay bytes per transition | vs frame + scalars |",
        "|-----|---------|------------:|----------------------------:|-------------------:|",
    ]
    bars: dict[str, Any] = {}
    plot: dict[str, dict[str, list[float]]] = {}
    for name, by_lib in runs.items():
        plot[ENVS[name]] = {}
        for lib, rs in by_lib.items():
            per = rs[0]["bytes_per_transition"]
            yardstick = rs[0]["frame_bytes"] + SCALAR_BYTES
            lines.append(
                f"| {ENVS[name]} | {lib} | {fmt(spread([r['steps_per_s'] for r in rs]))} | "
                f"{per:,.0f} | {per / yardstick:.2f}x |"
            )
            plot[ENVS[name]][lib] = [r["steps_per_s"] for r in rs]
        r = by_lib["renshu"][0]
        ratio = r["bytes_per_transition"] / (r["frame_bytes"] + SCALAR_BYTES)
        bars[name] = {
            "text": f"{name}: replay bytes per transition <= {BAR:g}x (frame + scalars)",
            "value": ratio,
            "met": ratio <= BAR,
        }
    speed = {
        name: spread([r["steps_per_s"] for r in by_lib["renshu"]])["median"]
        / spread([r["steps_per_s"] for r in by_lib["sb3"]])["median"]
        for name, by_lib in runs.items()
    }
    lines.append("")
    for name, bar in bars.items():
        lines.append(
            f"- {ENVS[name]}: renshu {bar['value']:.2f}x of frame + scalars, bar <= {BAR:g}x: "
            f"{verdict(bar['met'])}; env steps/s renshu / SB3: {speed[name]:.1f}x."
        )
    lines += [
        "",
        "renshu's replay memory does not grow with the window (48x48 frames, 100-step "
        "episodes, full buffer): "
        + ", ".join(
            f"window {row['window']}: {row['bytes_per_transition']:,.0f} B ({row['ratio']:.2f}x)"
            for row in sweep
        )
        + ".",
        "",
        "![pixels](benchmarks/results/pixels.png)",
    ]
    markdown = "\n".join(lines)
    plot_bars(RESULTS / "pixels.png", f"CNN, {WINDOW}-frame window", "env steps per second", plot)
    report = {
        "config": {"window": WINDOW, "steps": args.steps, "repeats": args.repeats, **COMMON},
        "runs": runs,
        "window_sweep": sweep,
        "speed_ratio": speed,
        "bars": bars,
    }
    write_report("pixels", report, markdown)
    print(markdown)
    return report


if __name__ == "__main__":
    main()

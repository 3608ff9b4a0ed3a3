"""Learning bars on Shower and Catch: wall time and env steps until a greedy policy reaches them.

* Shower-v0: mean score >= 57 over 100 test episodes (the practical optimum is +59.1).
* Catch-v0 (8x8): mean score >= 95% of the scripted controller's on the same 1,000 episodes
  (``renshu.envs.catch.scripted_policy``; its mean over 4,096 episodes is +25.80, see
  ``docs/environments.md``).

Each library trains with renshu's preset for the env (``src/renshu/presets/<env>.yaml``, read when
the benchmark runs), SB3 with the same settings in its words where it has them (it has no
Double/Dueling DQN or prioritized replay: those run as plain DQN there, and the table says so).
renshu scales observations inside its network (uint8 to [0, 1], bounded floats to [-1, 1]); SB3
gets the same scaling from an observation wrapper. Every ``--every`` env steps the greedy policy
plays the test episodes on the env's batched twin (the same seeded episodes each time, for both
libraries); training stops at the first pass. Wall time counts training only (the evaluations
are timed and subtracted). Median of 5 seeds; bar: renshu's median under 30 s for each env.

    python benchmarks/learning_bars.py [--seeds 5] [--no-sb3]
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from _common import RESULTS, alternate, fmt, plot_bars, sb3_available, spread, verdict, write_report

BAR_SECONDS = 30.0
EVAL_SEED = 12_345

ENVS: dict[str, dict[str, Any]] = {
    "shower": {
        "id": "renshu/Shower-v0",
        "kwargs": {},
        "episodes": 100,
        "every": 500,
        "bar": "mean >= 57 over 100 episodes",
    },
    "catch": {
        "id": "renshu/Catch-v0",
        "kwargs": {},
        "episodes": 1000,
        "every": 1000,
        "bar": ">= 95% of the scripted controller's mean on the same 1,000 episodes",
    },
}


# ----------------------------------------------------------------------------- evaluation
def play(env_id: str, kwargs: dict[str, Any], episodes: int, policy: Any) -> float:
    """Mean score of ``policy(obs, info) -> actions`` over the first episode of each of
    ``episodes`` copies of the batched twin, seeded with EVAL_SEED."""
    import gymnasium
    import numpy as np

    envs = gymnasium.make_vec(
        env_id, num_envs=episodes, vectorization_mode="vector_entry_point", **kwargs
    )
    obs, info = envs.reset(seed=EVAL_SEED)
    total = np.zeros(episodes)
    done = np.zeros(episodes, dtype=bool)
    while not done.all():
        obs, reward, terminated, truncated, info = envs.step(policy(obs, info))
        total += np.where(done, 0.0, reward)
        done |= terminated | truncated
    envs.close()
    return float(total.mean())


def target_score(name: str) -> tuple[float, float | None]:
    """The score to reach, and the reference it comes from (the scripted mean for Catch)."""
    spec = ENVS[name]
    if name == "shower":
        return 57.0, None
    from renshu.envs import catch

    scripted = play(spec["id"], spec["kwargs"], spec["episodes"], catch.scripted_policy)
    return 0.95 * scripted, scripted


class Bar:
    """Evaluates a greedy policy every ``every`` env steps, times itself, says when to stop."""

    def __init__(self, name: str) -> None:
        self.name, self.spec = name, ENVS[name]
        self.target, self.reference = target_score(name)
        self.next = self.spec["every"]
        self.eval_seconds = 0.0
        self.history: list[list[float]] = []
        self.reached_at: int | None = None

    def check(self, step: int, policy: Any) -> bool:
        """Evaluate if due; True once the bar is reached."""
        if step < self.next:
            return False
        while self.next <= step:
            self.next += self.spec["every"]
        started = time.perf_counter()
        score = play(self.spec["id"], self.spec["kwargs"], self.spec["episodes"], policy)
        self.eval_seconds += time.perf_counter() - started
        self.history.append([step, score])
        if score >= self.target and self.reached_at is None:
            self.reached_at = step
        return self.reached_at is not None

    def result(self, total_seconds: float, steps: int, budget: int) -> dict[str, Any]:
        train_seconds = total_seconds - self.eval_seconds
        return {
            "bar_met": self.reached_at is not None,
            "steps": self.reached_at if self.reached_at is not None else steps,
            "seconds": train_seconds if self.reached_at is not None else math.inf,
            "train_seconds": train_seconds,
            "eval_seconds": self.eval_seconds,
            "budget": budget,
            "target": self.target,
            "reference": self.reference,
            "evaluations": self.history,
        }


# ----------------------------------------------------------------------------- runs
def run_renshu(name: str, seed: int) -> dict[str, Any]:
    import renshu
    from renshu import presets

    preset = presets.load(name)
    agent = renshu.DQN(name, seed=seed, **preset.config)
    bar = Bar(name)

    class Stop(renshu.Callback):
        def on_tick(self, step: int) -> None:
            if bar.check(step, lambda obs, info: agent.act(obs)):
                agent.stop_training = True

    started = time.perf_counter()
    agent.fit(steps=preset.steps, progress=False, callbacks=[Stop()])
    result = bar.result(time.perf_counter() - started, agent.num_steps, preset.steps)
    result["config"] = preset.config
    return result


def sb3_settings(config: dict[str, Any], steps: int) -> tuple[dict[str, Any], list[str]]:
    """stable_baselines3.DQN arguments for a renshu DQNConfig, and what SB3 cannot do."""
    from renshu.agents.dqn import DQNConfig

    c = DQNConfig(**config)
    missing = [name for name in ("double", "dueling", "prioritized") if getattr(c, name)]
    if c.policy != "eps_greedy":
        missing.append(f"policy={c.policy}")
    if c.optimizer != "adam" or c.loss != "huber":
        missing.append("optimizer/loss")
    soft = c.target_update < 1
    hidden = list(c.net) if isinstance(c.net, (list, tuple)) else [64, 64]
    return {
        "learning_rate": c.learning_rate,
        "gamma": c.gamma,
        "buffer_size": c.buffer_size,
        "batch_size": c.batch_size,
        "learning_starts": c.warmup_steps,
        "train_freq": c.train_every,
        "gradient_steps": c.gradient_steps,
        "target_update_interval": 1 if soft else int(c.target_update),
        "tau": float(c.target_update) if soft else 1.0,
        "exploration_initial_eps": c.eps_start,
        "exploration_final_eps": c.eps_end,
        "exploration_fraction": min(1.0, c.eps_anneal_steps / steps),
        "max_grad_norm": c.max_grad_norm if c.max_grad_norm is not None else math.inf,
        "n_steps": c.n_step,
        "policy_kwargs": {"net_arch": hidden},
    }, missing


def scaled_env(env: Any) -> Any:
    """The scaling renshu's network applies, as an observation wrapper (float32 output)."""
    import gymnasium
    import numpy as np

    space = env.observation_space
    if space.dtype == np.uint8:
        low, scale = np.zeros(space.shape, np.float32), np.full(space.shape, 1 / 255, np.float32)
        new = gymnasium.spaces.Box(0.0, 1.0, space.shape, np.float32)
    else:
        lo, hi = space.low.astype(np.float64), space.high.astype(np.float64)
        ok = np.isfinite(lo) & np.isfinite(hi) & (hi - lo <= 1e4)
        low = np.where(ok, (hi + lo) / 2, 0.0).astype(np.float32)
        scale = np.where(ok, 2 / (hi - lo), 1.0).astype(np.float32)
        new = gymnasium.spaces.Box(-np.inf, np.inf, space.shape, np.float32)
    return gymnasium.wrappers.TransformObservation(
        env, lambda obs: ((np.asarray(obs, np.float32) - low) * scale).astype(np.float32), new
    ), (low, scale)


def run_sb3(name: str, seed: int) -> dict[str, Any]:
    import numpy as np
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    import renshu
    from renshu import presets

    preset = presets.load(name)
    settings, missing = sb3_settings(preset.config, preset.steps)
    env, (low, scale) = scaled_env(renshu.make(name))
    model = DQN("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **settings)
    bar = Bar(name)

    def policy(obs: Any, info: Any) -> Any:
        x = ((np.asarray(obs, np.float32) - low) * scale).astype(np.float32)
        return model.predict(x, deterministic=True)[0]

    class Stop(BaseCallback):  # type: ignore[misc]
        def _on_step(self) -> bool:
            return not bar.check(self.num_timesteps, policy)

    started = time.perf_counter()
    model.learn(total_timesteps=preset.steps, callback=Stop())
    result = bar.result(time.perf_counter() - started, model.num_timesteps, preset.steps)
    result["settings"] = settings
    result["not_in_sb3"] = missing
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=list(ENVS))
    parser.add_argument("--no-sb3", action="store_true", help="renshu only")
    args = parser.parse_args(argv)
    with_sb3 = not args.no_sb3 and sb3_available()
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for name in args.envs:
        print(f"learning bar: {name} ({ENVS[name]['bar']}), {args.seeds} seeds, alternating")
        tasks = {"renshu": (run_renshu, {"name": name})}
        if with_sb3:
            tasks["sb3"] = (run_sb3, {"name": name})
        runs[name] = alternate(tasks, args.seeds, seeds=list(range(args.seeds)))

    lines = [
        "Greedy test every few thousand env steps on the env's batched twin (the same seeded "
        "episodes each time, for both libraries), training stopped at the first pass; wall time "
        "counts training only. Settings: renshu's preset for the env; SB3 the same in its words. "
        f"Median (min–max) over seeds 0–{args.seeds - 1}; a seed that never reaches the bar "
        "counts as infinite time.",
        "",
        "| Env | Bar | Library | Wall time to the bar | Env steps | Reached |",
        "|-----|-----|---------|---------------------:|----------:|--------:|",
    ]
    bars: dict[str, Any] = {}
    plot: dict[str, dict[str, list[float]]] = {}
    for name, by_lib in runs.items():
        plot[name] = {}
        for lib, rs in by_lib.items():
            seconds = [r["seconds"] for r in rs]
            steps = [r["steps"] for r in rs]
            reached = sum(r["bar_met"] for r in rs)
            target = rs[0]["target"]
            bar_text = ENVS[name]["bar"] + f" (score >= {target:.2f})"
            lines.append(
                f"| {name} | {bar_text} | {lib} | {fmt(spread(seconds), 1, ' s')} | "
                f"{fmt(spread(steps))} | {reached} of {len(rs)} |"
            )
            plot[name][lib] = [s for s in seconds if math.isfinite(s)]
        median = spread([r["seconds"] for r in by_lib["renshu"]])["median"]
        bars[name] = {
            "text": f"{name}: {ENVS[name]['bar']}, renshu median wall time < {BAR_SECONDS:g} s",
            "value": median,
            "met": median < BAR_SECONDS,
        }
    lines.append("")
    for name, bar in bars.items():
        extra = ""
        if name == "catch":
            reference = runs[name]["renshu"][0]["reference"]
            extra = f" (scripted controller on these episodes: {reference:+.2f})"
        lines.append(
            f"- {name}: renshu median {bar['value']:.1f} s{extra}; bar < {BAR_SECONDS:g} s: "
            f"{verdict(bar['met'])}."
        )
    if with_sb3:
        for name, by_lib in runs.items():
            missing = by_lib["sb3"][0].get("not_in_sb3") or []
            if missing:
                lines.append(
                    f"- SB3 on {name} runs without {', '.join(missing)} (not in SB3's DQN)."
                )
    presets_used = {name: by_lib["renshu"][0]["config"] for name, by_lib in runs.items()}
    lines.append("")
    lines.append(
        "Presets used: "
        + "; ".join(
            f"{name}: " + ", ".join(f"{k}={v}" for k, v in cfg.items())
            for name, cfg in presets_used.items()
        )
        + "."
    )
    lines += ["", "![learning bars](benchmarks/results/learning_bars.png)"]
    markdown = "\n".join(lines)
    plot_bars(
        RESULTS / "learning_bars.png",
        "Wall time (training) until the learning bar",
        "seconds",
        plot,
    )
    report = {
        "config": {"envs": {n: ENVS[n] for n in args.envs}, "seeds": args.seeds},
        "presets": presets_used,
        "runs": runs,
        "bars": bars,
    }
    write_report("learning_bars", report, markdown)
    print(markdown)
    return report


if __name__ == "__main__":
    main()

"""A3C's scale: env steps/s with 1 and 2 workers, the learner's gradient-apply rate, and what
they project for many workers; Ray's start-up time and the memory of a worker.

Measured on CartPole-v1 with the A3C preset (``src/renshu/presets/CartPole-v1.yaml``: 8 envs
per worker, 5 steps each, so 40 env steps per gradient):

- **steps/s**: ``A3C.fit`` on a local Ray started once (``cluster.connect(num_cpus=2)``), the
  rate over the second half of each run (actors started and warm); A2C's preset on the same
  machine alongside (one process).
- **apply rate**: the learner alone (no workers, no Ray): :meth:`A3C.take` of a worker's
  gradient with a rollout's observations, then :meth:`A3C.weights` (the copy sent back);
  gradients per second. Ray's cost per gradient is measured apart: the round trip of an actor
  call carrying the weights and returning a gradient-sized array.
- **projection**: a worker sends ``steps/s of 1 worker / 40`` gradients per second; one learner
  saturates at ``apply rate / that`` workers, between "at worst" (the whole round trip charged
  to the learner) and "at best" (none of it); 100 workers need ``ceil(100 * that / apply
  rate)`` learners (or that much faster a learner) and move ``(gradient + weights bytes) *
  gradients per second`` over the learner's network.
- **Ray start-up**: ``connect().start_s`` of a fresh local Ray; **memory per worker**: the RSS
  of a worker actor's process after one rollout (``/proc/PID/status``), and the learner's.

Threads: 1 per process (``_common`` pins OMP/MKL/OpenBLAS and torch before anything imports
them; Ray's worker processes inherit the variables and each worker runs under
``limit_threads(1)``).

    python benchmarks/a3c.py [--steps 100000] [--repeats 3]

Writes ``benchmarks/results/a3c.json`` and ``benchmarks/results/a3c.md``.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Any

from _common import THREADS, fmt, spread, write_report

ENV = "CartPole-v1"


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class _Clock:
    """Times and step counts at every gradient the learner applies (an on_tick callback)."""

    def __init__(self) -> None:
        import renshu

        class Ticks(renshu.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.ticks: list[tuple[float, int]] = []

            def on_tick(self, step: int) -> None:
                self.ticks.append((time.perf_counter(), step))

        self.callback = Ticks()

    def second_half_rate(self) -> float:
        ticks = self.callback.ticks
        (t0, s0), (t1, s1) = ticks[len(ticks) // 2], ticks[-1]
        return (s1 - s0) / max(t1 - t0, 1e-9)


def preset(algo: str) -> dict[str, Any]:
    import renshu

    return dict(renshu.presets.load(ENV, algo).config)


def steps_per_second(algo: str, workers: int, steps: int, seed: int) -> float:
    """Env steps/s over the second half of ``fit(steps)`` (A2C: one process)."""
    import renshu

    options = preset(algo)
    if algo == "a3c":
        options["workers"] = workers
    agent = (renshu.A3C if algo == "a3c" else renshu.A2C)(ENV, seed=seed, **options)
    clock = _Clock()
    agent.fit(steps, progress=False, callbacks=[clock.callback])
    return clock.second_half_rate()


def apply_rate(seconds: float) -> dict[str, Any]:
    """Gradients the learner applies per second (:meth:`A3C.take`, then :meth:`A3C.weights`,
    the copy sent back), without workers or Ray."""
    import numpy as np

    import renshu
    from renshu.agents.a3c import Arrival

    agent = renshu.A3C(ENV, seed=0, **preset("a3c"))
    agent._end_step = 10**9
    n = agent._flat.data.numel()
    rng = np.random.default_rng(0)
    gradient = (rng.standard_normal(n) * 1e-3).astype(np.float32)
    obs = [rng.standard_normal((8, 4)).astype(np.float32) for _ in range(5)]
    out: dict[str, Any] = {"parameters": n, "gradient_bytes": gradient.nbytes}
    out["weights_bytes"] = sum(v.nbytes for v in agent.weights().values())
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        agent.take(Arrival(0, gradient, agent.num_updates, 40, [], obs, {"policy_loss": 0.0}))
        agent.weights()
        count += 1
    out["applied_per_s"] = count / (time.perf_counter() - start)
    return out


def call_round_trip(calls: int) -> float:
    """Median seconds of a Ray actor call carrying the weights (inline, as the learner sends
    them) and returning a gradient-sized array: Ray's cost per gradient, actor side included."""
    import statistics

    import numpy as np
    import ray

    import renshu

    weights = renshu.A3C(ENV, seed=0, **preset("a3c")).weights()

    @ray.remote(num_cpus=1)
    class Echo:
        def run(self, weights: dict[str, np.ndarray], version: int) -> np.ndarray:
            return np.concatenate([w.ravel() for w in weights.values()])

    echo = Echo.remote()  # type: ignore[attr-defined]
    ray.get(echo.run.remote(weights, 0))
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        ray.get(echo.run.remote(weights, 0))
        times.append(time.perf_counter() - start)
    ray.kill(echo)
    return statistics.median(times)


def memory_per_worker() -> dict[str, float]:
    """RSS (MiB) of one worker actor after a rollout, and of this (the learner's) process."""
    import ray

    import renshu
    from renshu.distributed.a3c import Worker

    agent = renshu.A3C(ENV, seed=0, **preset("a3c"))
    actor = ray.remote(num_cpus=1)(Worker).remote(ENV, agent.worker_options(), 0, 1)
    ray.get(actor.run.remote(agent.weights(), 0))
    pid = ray.get(actor.__ray_call__.remote(lambda self: os.getpid()))
    assert pid != os.getpid(), "the worker runs in its own process"
    out = {"worker_rss_mib": _rss_mib(pid), "learner_rss_mib": _rss_mib(os.getpid())}
    ray.kill(actor)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--apply-seconds", type=float, default=5.0)
    args = parser.parse_args()
    from renshu.distributed import cluster

    starts = []
    for _ in range(args.repeats):  # a fresh local Ray each time
        with cluster.connect(num_cpus=2, what="The benchmark") as info:
            starts.append(info.start_s)
        print(f"ray start-up {info.start_s:.2f} s", flush=True)
    rates: dict[str, list[float]] = {"a2c": [], "a3c-1": [], "a3c-2": []}
    with cluster.connect(num_cpus=2, what="The benchmark"):
        memory = memory_per_worker()
        print(f"memory {memory}", flush=True)
        for repeat in range(args.repeats):  # taking turns
            for key in rates:
                algo, _, workers = key.partition("-")
                rate = steps_per_second(algo, int(workers or 1), args.steps, seed=repeat)
                rates[key].append(rate)
                print(f"{key} repeat {repeat}: {rate:,.0f} steps/s", flush=True)
        round_trip = call_round_trip(2_000)
    applied = apply_rate(args.apply_seconds)
    print(f"apply {applied}, Ray call {round_trip * 1e6:.0f} us", flush=True)

    per_gradient = 8 * 5  # env steps per gradient with the preset
    worker_rate = statistics_median(rates["a3c-1"]) / per_gradient  # gradients/s per worker
    best = applied["applied_per_s"]  # Ray's cost off the learner's thread
    worst = 1 / (1 / best + round_trip)  # a whole round trip charged to the learner
    bytes_per_gradient = applied["gradient_bytes"] + applied["weights_bytes"]
    hundred = 100 * worker_rate
    megabytes = hundred * bytes_per_gradient / 1e6
    projection = {
        "gradients_per_s_per_worker": worker_rate,
        "workers_one_learner_saturates_at": [worst / worker_rate, best / worker_rate],
        "gradients_per_s_100_workers": hundred,
        "learners_for_100_workers": [math.ceil(hundred / best), math.ceil(hundred / worst)],
        "bytes_per_s_100_workers": hundred * bytes_per_gradient,
    }
    report = {
        "env": ENV,
        "steps": args.steps,
        "repeats": args.repeats,
        "threads_per_process": THREADS,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "ray_start_s": spread(starts),
        "steps_per_s": {k: spread(v) for k, v in rates.items()},
        "apply": applied,
        "ray_call_round_trip_s": round_trip,
        "learner_gradients_per_s_with_ray": worst,
        "memory": memory,
        "projection": projection,
    }
    md = [
        f"A3C on {ENV} with its preset (8 envs x 5 steps = 40 env steps per gradient), "
        f"median (min-max) of {args.repeats} runs of {args.steps:,} steps, {os.cpu_count()} "
        f"CPUs shared with other work (load average {os.getloadavg()[0]:.1f} at the end), "
        f"{THREADS} thread per process (`benchmarks/a3c.py`).",
        "",
        "| What | Figure |",
        "|------|-------:|",
        f"| A2C (preset, one process), env steps/s | {fmt(spread(rates['a2c']))} |",
        f"| A3C, 1 worker, env steps/s | {fmt(spread(rates['a3c-1']))} |",
        f"| A3C, 2 workers, env steps/s | {fmt(spread(rates['a3c-2']))} |",
        f"| Learner alone (apply + copy of the weights): gradients/s | "
        f"{applied['applied_per_s']:,.0f} |",
        f"| Ray call carrying the weights, round trip | {round_trip * 1e6:,.0f} us |",
        f"| Learner with that round trip charged to it (at worst): gradients/s | {worst:,.0f} |",
        f"| Gradient / weights sent per update | {applied['gradient_bytes']:,} B / "
        f"{applied['weights_bytes']:,} B |",
        f"| Ray start-up (`connect().start_s`) | {fmt(spread(starts), 2, ' s')} |",
        f"| Worker actor RSS / learner RSS | {memory['worker_rss_mib']:.0f} MiB / "
        f"{memory['learner_rss_mib']:.0f} MiB |",
        f"| One worker sends (gradients/s, from the 1-worker rate) | {worker_rate:,.0f} |",
        f"| One learner saturates at (workers, at worst - at best) | {worst / worker_rate:,.1f} - "
        f"{best / worker_rate:,.1f} |",
        f"| 100 workers: gradients/s | {hundred:,.0f} |",
        f"| 100 workers: learners (at best - at worst) | {math.ceil(hundred / best)} - "
        f"{math.ceil(hundred / worst)} |",
        f"| 100 workers: gradients in + weights out | {megabytes:,.0f} MB/s |",
    ]
    write_report("a3c", report, "\n".join(md))
    print("\n".join(md))


def statistics_median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


if __name__ == "__main__":
    main()

"""What the peer benchmarks share: pinned threads, a fresh worker process per run, renshu and
Stable-Baselines3 taking turns, medians and ratios, JSON, Markdown and plots.

Threads are pinned before NumPy or torch is imported anywhere: the BLAS/OpenMP variables are set
at the top of this module (every benchmark imports it first) and inherited by the workers, which
also call ``torch.set_num_threads``. Each run is a task in a one-worker process pool that starts a
new process per task, so runs never share warm caches, allocators or torch state, and runs of the
two libraries alternate (renshu first on even repeats, SB3 first on odd ones).
"""

from __future__ import annotations

import os

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
THREADS = int(os.environ.get("RENSHU_BENCH_THREADS", "1"))
"""Threads for torch and the BLAS libraries in every worker (1 unless RENSHU_BENCH_THREADS)."""
for _var in THREAD_VARS:
    os.environ[_var] = str(THREADS)

import concurrent.futures  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LIBRARIES = ("renshu", "sb3")
LABELS = {"renshu": "renshu", "sb3": "Stable-Baselines3"}


# ----------------------------------------------------------------------------- workers
def worker_setup(threads: int) -> None:
    """Runs first in every worker process: pin the threads (environment and torch)."""
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    import warnings

    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # one interop thread too (settable once only)
        torch.set_num_interop_threads(1)
    import renshu  # noqa: F401  (registers the built-in envs)

    # SB3 imports the old gym package when it is installed, which prints a notice.
    with contextlib.redirect_stderr(io.StringIO()), contextlib.suppress(ImportError):
        import stable_baselines3  # noqa: F401


def thread_report() -> dict[str, Any]:
    """What the current process runs with: torch threads, the variables, BLAS pools."""
    import numpy as np
    import torch

    report: dict[str, Any] = {
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        **{var: os.environ.get(var) for var in THREAD_VARS},
    }
    try:
        from threadpoolctl import threadpool_info

        report["blas_pools"] = [
            {k: info.get(k) for k in ("internal_api", "num_threads", "filepath")}
            for info in threadpool_info()
        ]
    except ImportError:  # threadpoolctl is in the bench extra; without it, say so
        report["blas_pools"] = "threadpoolctl not installed"
    report["numpy"] = np.__version__
    return report


def _run_in_worker(fn: Callable[..., dict[str, Any]], kwargs: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    result = fn(**kwargs)
    result.setdefault("process_seconds", time.perf_counter() - started)
    result["threads"] = thread_report()
    return result


def run_one(fn: Callable[..., dict[str, Any]], threads: int = THREADS, **kwargs: Any) -> Any:
    """``fn(**kwargs)`` in a fresh worker process with pinned threads; its result dict."""
    context = multiprocessing.get_context("spawn")
    options: dict[str, Any] = {"initializer": worker_setup, "initargs": (threads,)}
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context, **options) as pool:
        return pool.submit(_run_in_worker, fn, kwargs).result()


def alternate(
    tasks: dict[str, tuple[Callable[..., dict[str, Any]], dict[str, Any]]],
    repeats: int,
    *,
    seeds: Sequence[int] | None = None,
    threads: int = THREADS,
    log: Callable[[str], None] = print,
) -> dict[str, list[dict[str, Any]]]:
    """Run every task ``repeats`` times, taking turns (the order flips every repeat).

    ``tasks`` maps a library to ``(function, kwargs)``; with ``seeds``, repeat ``i`` passes
    ``seed=seeds[i]``. Each run is a fresh process from a one-worker pool.
    """
    names = list(tasks)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    context = multiprocessing.get_context("spawn")
    pool_options: dict[str, Any] = {"initializer": worker_setup, "initargs": (threads,)}
    if sys.version_info >= (3, 11):
        pool_options["max_tasks_per_child"] = 1  # a new process for every run
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context, **pool_options) as pool:
        for repeat in range(repeats):
            order = names if repeat % 2 == 0 else names[::-1]
            for name in order:
                fn, kwargs = tasks[name]
                kwargs = dict(kwargs)
                if seeds is not None:
                    kwargs["seed"] = seeds[repeat]
                result = pool.submit(_run_in_worker, fn, kwargs).result()
                result["repeat"] = repeat
                results[name].append(result)
                log(f"  {name:7s} run {repeat + 1}/{repeats}: {short(result)}")
    return results


def short(result: dict[str, Any]) -> str:
    keys = ("steps_per_s", "seconds", "solved", "steps", "bar_met")
    parts = []
    for key in keys:
        if key in result:
            value = result[key]
            parts.append(f"{key}={value:,.1f}" if isinstance(value, float) else f"{key}={value}")
    return ", ".join(parts)


# ----------------------------------------------------------------------------- statistics
def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def fmt(stats: dict[str, float], digits: int = 0, unit: str = "") -> str:
    """``median (min-max)`` for a Markdown cell."""
    f = f"{{:,.{digits}f}}"
    return f"{f.format(stats['median'])}{unit} ({f.format(stats['min'])}–{f.format(stats['max'])})"


# ----------------------------------------------------------------------------- reports
def system_info() -> dict[str, Any]:
    """Machine and library versions, for every JSON report."""
    import gymnasium
    import numpy as np
    import torch

    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "threads": THREADS,
        "thread_vars": {var: os.environ.get(var) for var in THREAD_VARS},
    }
    if sb3_available():
        import stable_baselines3

        info["stable_baselines3"] = stable_baselines3.__version__
    else:
        info["stable_baselines3"] = None
    import renshu

    info["renshu"] = renshu.__version__
    return info


def write_report(name: str, report: dict[str, Any], markdown: str) -> None:
    """``results/<name>.json`` and ``results/<name>.md``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"benchmark": name, "system": system_info(), **report}
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown.rstrip() + "\n")


def verdict(met: bool) -> str:
    return "**met**" if met else "**NOT met**"


def sb3_available() -> bool:
    # SB3 imports the old gym package when it is installed, which prints a notice.
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:
            return False
    return True


def require_sb3() -> None:
    """Exit with the install command when Stable-Baselines3 is missing."""
    if not sb3_available():
        raise SystemExit(
            "Stable-Baselines3 is the peer these benchmarks compare with; install it with "
            "`pip install -e '.[bench]'`."
        )


def plot_bars(
    path: Path,
    title: str,
    ylabel: str,
    groups: dict[str, dict[str, list[float]]],
    *,
    log: bool = False,
) -> None:
    """Grouped bars of the medians with min-max whiskers and every run as a dot.

    ``groups`` maps a group label (an x position) to library -> values.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    libraries = [lib for lib in LIBRARIES if any(lib in g for g in groups.values())]
    fig, ax = plt.subplots(figsize=(max(4.0, 2.2 * len(groups) + 1.5), 3.6))
    width = 0.8 / max(len(libraries), 1)
    colors = {"renshu": "#d1495b", "sb3": "#00798c"}
    for i, lib in enumerate(libraries):
        xs, medians, lows, highs = [], [], [], []
        for x, values in enumerate(groups.values()):
            if lib not in values or not values[lib]:
                continue
            v = values[lib]
            xs.append(x + (i - (len(libraries) - 1) / 2) * width)
            med = statistics.median(v)
            medians.append(med)
            lows.append(med - min(v))
            highs.append(max(v) - med)
            ax.scatter([xs[-1]] * len(v), v, s=10, color="black", zorder=3, alpha=0.6, linewidths=0)
        ax.bar(
            xs,
            medians,
            width * 0.9,
            yerr=np.array([lows, highs]),
            capsize=3,
            color=colors[lib],
            label=LABELS[lib],
        )
    ax.set_xticks(range(len(groups)), list(groups))
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if log:
        ax.set_yscale("log")
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def greedy_rewards(env_id: str, predict: Any, seed: int, episodes: int) -> list[float]:
    """Rewards of ``episodes`` episodes of ``gymnasium.make(env_id)`` playing ``predict(obs)``,
    the first reset seeded with ``seed`` as ``agent.test(seed=...)`` does: the same episodes for
    every library."""
    import gymnasium

    env = gymnasium.make(env_id)
    rewards = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed if episode == 0 else None)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(predict(obs))
            total, done = total + float(reward), bool(terminated or truncated)
        rewards.append(total)
    return rewards

"""Sweeps on Ray Tune: many trials of one algorithm on one env, each an ordinary run folder.

    sweep = Sweep(env="CartPole-v1", algo="ppo", steps=20_000, seeds=(0,), preset=preset,
                  dists=(Dist(...),), folder=Path("runs/tune-CartPole-v1-ppo"), trials=8)
    with cluster.connect(num_cpus=2):
        outcome = run_sweep(sweep)

Each trial draws its options from the search space (:mod:`renshu.distributed.search`), lays
them over the base preset and trains one run folder per seed inside the sweep folder
(:func:`renshu.distributed.worker.train_run`, the run ``renshu train`` makes with the same
settings and seed). Every tenth of the steps it plays a few greedy episodes on an evaluation env
of its own (own seed: training's random streams are untouched, so the run is the one
``renshu train`` makes) and reports the mean as ``score``; Ray Tune's ASHA scheduler stops the
trials whose score falls behind. A finished trial's score is its runs' final greedy test mean.
Ray Tune's own files go to ``SWEEP/ray``; Ray prints nothing.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from renshu.callbacks import Callback
from renshu.distributed.search import Dist, as_options

if TYPE_CHECKING:
    from renshu.presets import Preset

EVALUATIONS = 10
"""Greedy evaluations per run (every tenth of the steps): what ASHA compares trials on."""

EVAL_SEED_OFFSET = 10_007
"""The evaluation env's seed is the run's seed plus this (never the training env's seed)."""

RAY_FOLDER = "ray"
"""Ray Tune's own files (experiment state, results) inside the sweep folder."""


@dataclass(frozen=True)
class Sweep:
    """Everything a trial needs (sent to the Ray workers)."""

    env: Any
    """The environment, as ``renshu train`` takes it (a file path made absolute)."""
    algo: str
    """The algorithm."""
    steps: int
    """Training steps of each run."""
    seeds: tuple[int, ...]
    """The seeds every trial trains (one run folder each); its score is their mean."""
    preset: Preset
    """The base settings the sampled options are laid over (preset, --config, --set)."""
    dists: tuple[Dist, ...]
    """The search space."""
    folder: Path
    """The sweep folder (absolute), holding the trials' run folders."""
    trials: int
    """How many trials to draw."""
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Constructor arguments of the environment."""
    eval_episodes: int = 5
    """Greedy episodes of each evaluation."""
    cpus_per_trial: float = 1.0
    """CPUs Ray reserves for each trial."""
    sample_seed: int = 0
    """Seeds the drawing of the trials' options."""
    command: str = ""
    """The command line, recorded in each run's config.yaml."""
    torch_threads: int | None = None
    """torch's thread count in the process that started the sweep, which ``renshu train``
    there has too: a trial takes it before building its agent (Ray starts workers with one
    thread, and the network's initialization differs in its last bits with the thread count,
    so the run would not be the one ``renshu train`` makes)."""

    @property
    def eval_every(self) -> int:
        """Steps between a run's greedy evaluations."""
        return max(self.steps // EVALUATIONS, 1)

    @property
    def total_steps(self) -> int:
        """Training steps of a whole trial (all its seeds): ASHA's time axis."""
        return self.steps * len(self.seeds)


@dataclass
class Trial:
    """One trial as the sweep ended it."""

    index: int
    """Its number (0, 1, ...), in the order Ray Tune drew them."""
    options: dict[str, Any]
    """The values it drew."""
    status: str = "interrupted"
    """``finished``, ``stopped`` (by ASHA), ``failed`` or ``interrupted`` (Ctrl+C) or
    ``pending`` (never started)."""
    score: float = math.nan
    """The mean final greedy test of its runs when finished, else its last evaluation."""
    step: int = 0
    """Training steps it reached (over all its seeds)."""
    curve: list[tuple[int, float]] = field(default_factory=list)
    """``(step, score)`` of each evaluation and, when finished, the final test."""
    message: str = ""
    """Why it failed."""
    runs: list[str] = field(default_factory=list)
    """Its run folders."""


@dataclass
class SweepOutcome:
    """What :func:`run_sweep` did."""

    trials: list[Trial]
    """Every trial, by index."""
    interrupted: bool = False
    """True when Ctrl+C (or SIGTERM) stopped the sweep."""

    def best(self) -> Trial | None:
        """The finished trial with the highest score (the first of equals); None if none
        finished."""
        finished = [t for t in self.trials if t.status == "finished" and math.isfinite(t.score)]
        return max(finished, key=lambda t: t.score) if finished else None


class GreedyEval(Callback):
    """Every ``every`` steps of training (not at the end, where the final test plays), play
    ``episodes`` greedy episodes on an env of its own seeded with ``seed``, log the mean as
    ``eval/mean_reward`` and pass it to ``report(step, mean)``.

    Greedy play draws nothing from the agent's random streams and never touches its training
    env or test env, so training (and the final test) go exactly as without it."""

    def __init__(
        self,
        every: int,
        *,
        total: int,
        episodes: int,
        seed: int,
        make_env: Callable[[], Any],
        report: Callable[[int, float], None],
    ) -> None:
        self.every, self.total, self.episodes, self.seed = every, total, episodes, seed
        self._make_env, self._report = make_env, report
        self._env: Any = None
        self._next = every

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._next = (self.agent.num_steps // self.every + 1) * self.every
        if self._env is None:
            self._env = self._make_env()

    def on_tick(self, step: int) -> None:
        if step < self._next:
            return
        while self._next <= step:
            self._next += self.every
        if step >= self.total:
            return
        played = self.agent.test(
            episodes=self.episodes, env=self._env, seed=self.seed, progress=False
        )
        rewards = played.history["episode_reward"]
        mean, std = float(np.mean(rewards)), float(np.std(rewards))
        self.agent.log_metrics(step, {"eval/mean_reward": mean, "eval/std_reward": std})
        self._report(step, mean)


def run_trial(sampled: dict[str, Any], sweep: Sweep) -> None:
    """A Ray Tune function trainable: train the trial's runs one seed after another, reporting
    each evaluation and, at the end, the final score (``final``); a failure is reported as
    ``failed`` with its message (never raised: Ray would print its traceback)."""
    from ray import tune

    from renshu.distributed.worker import train_run
    from renshu.make import make
    from renshu.presets import config_class

    if sweep.torch_threads is not None:
        import torch

        torch.set_num_threads(sweep.torch_threads)
    index = _trial_index(tune.get_context().get_trial_id())
    done, finals, runs = 0, list[float](), list[str]()

    def report(step: int, score: float, **more: Any) -> None:
        mean = float(np.mean([*finals, score]))
        tune.report({"score": mean, "step": done + step, "runs": list(runs), **more})

    try:
        options = as_options(sampled, sweep.dists, config_class(sweep.algo))
        preset = sweep.preset.with_options(options, origin="the values the trial drew")
        for seed in sweep.seeds:
            evaluation = GreedyEval(
                sweep.eval_every,
                total=sweep.steps,
                episodes=sweep.eval_episodes,
                seed=seed + EVAL_SEED_OFFSET,
                make_env=lambda: make(sweep.env, **dict(sweep.env_kwargs)),
                report=report,
            )
            name = f"trial-{index:03d}" + (f"-seed-{seed}" if len(sweep.seeds) > 1 else "")
            run, result = train_run(
                sweep.env,
                algo=sweep.algo,
                seed=seed,
                steps=sweep.steps,
                preset=preset,
                runs_dir=sweep.folder,
                name=name,
                env_kwargs=sweep.env_kwargs,
                extra={"command": sweep.command, "sweep": str(sweep.folder), "trial": index},
                callbacks=[evaluation],
            )
            runs.append(str(run.path))
            if result.interrupted or not result.test_scores:
                return
            finals.append(result.test_mean)
            done += result.steps
        tune.report({"score": float(np.mean(finals)), "step": done, "runs": runs, "final": True})
    except Exception as error:  # the trial's row says why
        tune.report({"score": math.nan, "step": done, "runs": runs, "failed": _first_line(error)})


def _trial_index(trial_id: str) -> int:
    """The number Ray Tune gives a trial at the end of its id (``a1b2c_00003`` -> 3)."""
    tail = trial_id.rpartition("_")[2]
    return int(tail) if tail.isdigit() else 0


def _first_line(error: BaseException) -> str:
    """What went wrong in one line: renshu's message's first line (the traceback of the user's
    code that follows it is left out), or ``Type: message`` for anything else."""
    text = (str(error).strip() or type(error).__name__).splitlines()[0]
    known = type(error).__module__.startswith("renshu")
    return text if known else f"{type(error).__name__}: {text}"


def run_sweep(sweep: Sweep) -> SweepOutcome:
    """Run the sweep on the Ray that :func:`renshu.distributed.cluster.connect` joined; return
    each trial's outcome. Ctrl+C ends it cleanly (trials stopped, their run folders kept with
    the checkpoints they wrote): ``interrupted`` is then True."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    trials: dict[str, Trial] = {}
    space = {dist.key: _domain(tune, dist) for dist in sweep.dists}
    grace = min(max(sweep.eval_every * 2, 1), sweep.total_steps)
    scheduler = ASHAScheduler(
        time_attr="step",
        metric="score",
        mode="max",
        max_t=sweep.total_steps,
        grace_period=grace,
        reduction_factor=2,
    )
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, sweep=sweep), {"cpu": sweep.cpus_per_trial}
    )
    tuner = tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(
            num_samples=sweep.trials,
            scheduler=scheduler,
            search_alg=BasicVariantGenerator(random_state=sweep.sample_seed),
            reuse_actors=False,
        ),
        run_config=tune.RunConfig(
            name=RAY_FOLDER,
            storage_path=str(sweep.folder),
            verbose=0,
            callbacks=[_recorder(tune, trials)],
            failure_config=tune.FailureConfig(max_failures=0),
            log_to_file=True,
        ),
    )
    with _quiet():
        grid = tuner.fit()
    outcome = SweepOutcome(sorted(trials.values(), key=lambda t: t.index))
    crashed = [t for t in outcome.trials if t.status == "failed" and not t.message]
    for trial in crashed:  # its worker died: run_trial could not say why, Ray can
        trial.message = "its Ray worker stopped (see the trial's folder under SWEEP/ray)"
        for result in (grid[i] for i in range(len(grid))):
            if result.error is not None and f"_{trial.index:05d}_" in Path(result.path).name:
                trial.message = _ray_error(result.error)
    outcome.interrupted = len(outcome.trials) < sweep.trials or any(
        t.status == "interrupted" for t in outcome.trials
    )
    return outcome


def _domain(tune: Any, dist: Dist) -> Any:
    """Ray Tune's sampler for ``dist``."""
    if dist.kind == "choice":
        return tune.choice(list(dist.values))
    low, high = dist.values
    return {"uniform": tune.uniform, "loguniform": tune.loguniform, "randint": tune.randint}[
        dist.kind
    ](low, high)


def _recorder(tune: Any, rows: dict[str, Trial]) -> Any:
    """A Ray Tune callback (run in this process) that keeps each trial's reports in ``rows``."""

    class Recorder(tune.Callback):
        def _trial(self, trial: Any) -> Trial:
            if trial.trial_id not in rows:
                rows[trial.trial_id] = Trial(_trial_index(trial.trial_id), dict(trial.config))
            return rows[trial.trial_id]

        def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **_: Any) -> None:
            self._trial(trial).status = "interrupted"  # until it reports how it ended

        def on_trial_result(
            self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **_: Any
        ) -> None:
            row = self._trial(trial)
            row.step, row.runs = int(result.get("step", row.step)), list(result.get("runs", []))
            if result.get("failed"):
                row.status, row.message = "failed", str(result["failed"])
                return
            row.score = float(result["score"])
            row.curve.append((row.step, row.score))
            if result.get("final"):
                row.status = "finished"

        def on_trial_complete(
            self, iteration: int, trials: list[Any], trial: Any, **_: Any
        ) -> None:
            row = self._trial(trial)
            if row.status == "interrupted":  # ended without its final report: ASHA
                row.status = "stopped"

        def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **_: Any) -> None:
            row = self._trial(trial)
            row.status = "failed"  # the message is taken from Ray's result afterwards

    return Recorder()


def _ray_error(error: BaseException) -> str:
    cause = getattr(error, "cause", None)
    return _first_line(cause if isinstance(cause, BaseException) else error)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep Ray Tune's log lines (warnings, the experiment summary) off the console."""
    loggers = [logging.getLogger(name) for name in ("ray", "ray.tune", "ray.train")]
    levels = [logger.level for logger in loggers]
    previous = os.environ.get("RAY_AIR_NEW_OUTPUT")
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if previous is None:
            os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
        else:
            os.environ["RAY_AIR_NEW_OUTPUT"] = previous

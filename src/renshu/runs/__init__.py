"""Run folders: one training run on disk, so it can be read, plotted, tested and resumed.

:class:`Run` is what ``renshu train`` drives; Python users can call it the same way::

    run = Run.create("catch", steps=30_000, seed=0, options={"double": True})
    result = run.train()                      # fit, checkpoints, plots, test, GIF
    run = Run.open("runs/catch-dqn-0")
    run.train(steps=60_000)                   # resume from the last checkpoint, up to 60k steps

A run folder holds::

    runs/<env>-<algo>-<seed>[-<n>]/
      config.yaml          resolved settings: env, algo, seed, steps, test_episodes,
                           checkpoint_every, every option of the algorithm's config, versions
      metrics.csv          one row per finished episode, one per periodic log, and one per
                           checkpoint that cut episodes under way (appended)
      tb/                  TensorBoard events (tensorboard --logdir runs)
      checkpoints/<step>/  saved agents; the newest also keeps its replay buffer (or rollout),
                           so training resumes exactly (older ones drop replay.npz to save disk)
      agent/               the final agent (renshu.load("runs/catch-dqn-0/agent"))
      plots/learning_curve.png
      videos/test.gif      one greedy test episode, for envs that render rgb_array

A new run never reuses a folder: a second run with the same name gets ``-1``, ``-2``, ...
``metrics.csv`` has the columns of :func:`metric_columns` of the run's algorithm (its own
metrics, from :data:`renshu.agents.ALGORITHMS`; more are added when a callback logs other
keys): episode rows fill ``episode``, ``charts/episode_reward`` and ``charts/episode_length``;
log rows fill the periodic metrics. The agent's periodic
``charts/episode_reward`` (a mean of recent episodes) is not stored: the per-episode rewards are.

A checkpoint ends the episodes under way (an env's state cannot be saved in general, so training
after a checkpoint, or a resume from it, starts new episodes). Those cut episodes are not
episodes in ``metrics.csv``; a row at the checkpoint's step counts them in
``checkpoint/cut_episodes`` and their steps in ``checkpoint/cut_steps``, so the episode lengths
plus the cut steps add up to the run's steps.

The modules: :mod:`~renshu.runs.folders` (names, creation, ``config.yaml``),
:mod:`~renshu.runs.metrics` (``metrics.csv``), :mod:`~renshu.runs.loggers` (TensorBoard,
checkpoints, progress lines), :mod:`~renshu.runs.envs` (the environments a run builds),
:mod:`~renshu.runs.run` (:class:`Run`) and :mod:`~renshu.runs.compare` (:func:`plot_runs`).
"""

from renshu.runs.compare import plot_runs
from renshu.runs.envs import NO_GIF_HELP as NO_GIF_HELP
from renshu.runs.envs import rgb_array_env as rgb_array_env
from renshu.runs.folders import CONFIG_FILE as CONFIG_FILE
from renshu.runs.folders import METRICS_FILE as METRICS_FILE
from renshu.runs.folders import RUN_CONTENTS as RUN_CONTENTS
from renshu.runs.folders import RunSettings as RunSettings
from renshu.runs.folders import check_device as check_device
from renshu.runs.folders import default_every as default_every
from renshu.runs.folders import env_label
from renshu.runs.loggers import CheckpointKeeper, LineProgress, TensorBoardLogger
from renshu.runs.loggers import prune_replays as prune_replays
from renshu.runs.metrics import METRIC_COLUMNS, MetricsCSV, metric_columns, read_metrics
from renshu.runs.metrics import _truncate_metrics as _truncate_metrics
from renshu.runs.metrics import record_cut as record_cut
from renshu.runs.run import Run, RunResult, test_until_signal

__all__ = [
    "METRIC_COLUMNS",
    "CheckpointKeeper",
    "LineProgress",
    "MetricsCSV",
    "Run",
    "RunResult",
    "TensorBoardLogger",
    "env_label",
    "metric_columns",
    "plot_runs",
    "read_metrics",
    "test_until_signal",
]

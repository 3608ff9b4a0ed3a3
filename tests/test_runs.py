"""Run folders from Python: naming, config.yaml, metrics.csv, checkpoints, resume, errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import renshu
from renshu import checkpoint
from renshu.envs.toy import IdentityEnv
from renshu.errors import CheckpointError, ConfigError
from renshu.runs import (
    METRIC_COLUMNS,
    MetricsCSV,
    Run,
    _truncate_metrics,
    default_every,
    env_label,
    plot_runs,
    read_metrics,
)

torch.set_num_threads(1)

TINY = {
    "warmup_steps": 20,
    "buffer_size": 300,
    "batch_size": 8,
    "net": [8],
    "eps_anneal_steps": 100,
}


@pytest.mark.parametrize(
    ("env", "label"),
    [
        ("catch", "catch"),
        ("CartPole-v1", "CartPole-v1"),
        ("renshu/Catch-v0", "Catch-v0"),
        ("path/to/my env.py:ShowerEnv", "ShowerEnv"),
        ("pkg.mod:Thing", "Thing"),
        (IdentityEnv, "IdentityEnv"),
        (IdentityEnv(), "IdentityEnv"),
    ],
)
def test_env_label(env: object, label: str) -> None:
    assert env_label(env) == label


def test_default_checkpoint_interval() -> None:
    assert default_every(30_000) == 3_000
    assert default_every(5_000) == 1_000
    assert default_every(120) == 120


def test_create_checks_before_making_anything(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gamma must be a number in \[0, 1\], got 5"):
        Run.create("shower", options={"gamma": 5}, runs_dir=tmp_path)
    with pytest.raises(ConfigError, match="steps must be an int >= 1, got 0"):
        Run.create("shower", steps=0, runs_dir=tmp_path)
    with pytest.raises(renshu.EnvResolveError):
        Run.create("NoSuchEnv-v9", runs_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_create_names_folders_without_reusing_one(tmp_path: Path) -> None:
    runs = [Run.create("shower", seed=3, runs_dir=tmp_path, check_env=False) for _ in range(3)]
    assert [r.name for r in runs] == ["shower-dqn-3", "shower-dqn-3-1", "shower-dqn-3-2"]
    settings = yaml.safe_load((runs[0].path / "config.yaml").read_text())
    assert settings["steps"] == renshu.presets.load("shower").steps
    assert settings["config"]["seed"] == 3 and settings["preset"].endswith("shower.yaml")


def test_train_from_python_and_resume_with_a_larger_total(tmp_path: Path) -> None:
    run = Run.create("shower", steps=60, options=TINY, runs_dir=tmp_path, test_episodes=1)
    result = run.train(gif=False)
    assert (result.steps, result.start_step, result.interrupted) == (60, 0, None)
    assert len(result.test_scores) == 1 and not math.isnan(result.test_mean)
    assert result.files["agent"] == run.path / "agent"
    assert result.steps_per_second > 0

    again = Run.open(run.path).train(steps=120, gif=False, test=False)
    assert (again.steps, again.start_step, again.test_scores) == (120, 60, [])
    assert yaml.safe_load((run.path / "config.yaml").read_text())["steps"] == 120
    steps = read_metrics(run.path)["step"]
    assert steps.max() == 120 and (np.diff(steps) >= 0).all()


def test_a_run_on_an_env_instance_needs_it_again_to_open(tmp_path: Path) -> None:
    run = Run.create(IdentityEnv(), steps=40, options=TINY, runs_dir=tmp_path, test_episodes=1)
    assert run.name == "IdentityEnv-dqn-0"
    run.train(gif=True)
    assert not (run.path / "videos").exists()  # IdentityEnv does not render
    with pytest.raises(ConfigError, match=r"Run.open\(path, env=<the same environment>\)"):
        Run.open(run.path)
    result = Run.open(run.path, env=IdentityEnv()).train(steps=80, gif=False, test=False)
    assert result.steps == 80


def test_metrics_csv_appends_and_grows_columns(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    log = MetricsCSV(path)
    log.write({"step": 10, "episode": 0, "charts/episode_reward": 1.5})
    log.write({"step": 20, "losses/td_loss": 0.25}, flush=True)
    log.close()
    again = MetricsCSV(path)
    again.on_train_begin({})
    again.write({"step": 30, "custom/thing": 7})
    again.close()
    data = read_metrics(path)
    assert list(data)[: len(METRIC_COLUMNS)] == list(METRIC_COLUMNS)
    assert list(data)[-1] == "custom/thing"
    assert data["step"].tolist() == [10, 20, 30]
    assert data["charts/episode_reward"][0] == 1.5 and math.isnan(data["charts/episode_reward"][1])
    assert data["custom/thing"][2] == 7 and math.isnan(data["custom/thing"][0])
    assert (np.diff(data["time"]) >= 0).all()

    assert _truncate_metrics(path, 15) == 2
    assert read_metrics(path)["step"].tolist() == [10]
    assert _truncate_metrics(path, 15) == 0


def test_read_metrics_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No metrics at"):
        read_metrics(tmp_path)
    (tmp_path / "metrics.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="is not a renshu metrics file"):
        read_metrics(tmp_path)


def test_open_errors_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="it does not exist"):
        Run.open(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="it is a file, not a folder"):
        Run.open(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"is not a run folder: it has no config\.yaml"):
        Run.open(tmp_path / "empty")
    (tmp_path / "edited").mkdir()
    (tmp_path / "edited" / "config.yaml").write_text("env: shower\n")
    with pytest.raises(ConfigError, match="lacks algo, seed, steps"):
        Run.open(tmp_path / "edited")


def test_resume_point_and_load_agent(tmp_path: Path) -> None:
    run = Run.create("shower", steps=60, options=TINY, runs_dir=tmp_path, check_env=False)
    assert run.resume_point() is None
    with pytest.raises(
        CheckpointError, match="has no agent yet: no agent/ folder and no checkpoint"
    ):
        run.load_agent()
    (run.checkpoint_dir / "30").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="is not a complete checkpoint"):
        run.resume_point()
    with pytest.raises(CheckpointError, match="is not a complete checkpoint"):
        run.train()
    assert (run.checkpoint_dir / "30").is_dir()  # nothing deleted


def test_plot_runs_rejects_a_metric_without_values(tmp_path: Path) -> None:
    run = Run.create("shower", steps=60, options=TINY, runs_dir=tmp_path, test_episodes=1)
    run.train(gif=False)
    out = plot_runs([run.path], out=tmp_path / "r.png")
    assert out.is_file()
    with pytest.raises(ConfigError, match="has no values of 'eval/mean_reward' yet"):
        plot_runs([run.path], metric="eval/mean_reward", out=tmp_path / "e.png")
    assert checkpoint.latest(run.checkpoint_dir) == run.checkpoint_dir / "60"


def test_learning_curve_of_a_run_marks_its_greedy_test_and_evaluations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import renshu.plots

    figures = []
    real = renshu.plots.learning_curve

    def spy(*args: object, **kwargs: object) -> object:
        figures.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return figures[-1]

    monkeypatch.setattr(renshu.plots, "learning_curve", spy)
    run = Run.create("shower", steps=120, options=TINY, runs_dir=tmp_path, test_episodes=2)
    result = run.train(gif=False, callbacks=[renshu.Evaluate(every=60, episodes=2)])
    assert (run.path / "plots" / "learning_curve.png").is_file()
    ax = figures[-1].axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "greedy evaluation (mean ± std)" in labels
    assert f"greedy test: {result.test_mean:.4g} ± {result.test_std:.3g}, 2 episodes" in labels
    evals = read_metrics(run.path)["eval/mean_reward"]
    assert (~np.isnan(evals)).sum() == 2


def test_create_builds_the_agent_before_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DQN needs a Discrete action space"):
        Run.create("Pendulum-v1", runs_dir=tmp_path, check_env=False)
    with pytest.raises(ConfigError, match="need an environment renshu builds"):
        Run.create(IdentityEnv(), runs_dir=tmp_path, env_kwargs={"size": 3})
    assert not any(tmp_path.iterdir())
    run = Run.create("shower", runs_dir=tmp_path, steps=40, options=TINY, test_episodes=1)
    assert run.name == "shower-dqn-0"
    assert [p.name for p in run.path.iterdir()] == ["config.yaml"]


# ---- which checkpoint a resume or a test loads ------------------------------------------------


def three_checkpoints(tmp_path: Path) -> Run:
    """A Shower run with checkpoints at steps 20, 40 and 60 and its final agent."""
    run = Run.create(
        "shower", steps=60, options=TINY, runs_dir=tmp_path, checkpoint_every=20, check_env=False
    )
    run.train(gif=False, test=False, progress=False)
    assert sorted(int(p.name) for p in run.checkpoint_dir.iterdir()) == [20, 40, 60]
    return Run.open(run.path)


def flip_a_byte(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x10
    file.write_bytes(bytes(data))


def test_damaged_newest_checkpoint_falls_back_to_the_newest_that_loads(tmp_path: Path) -> None:
    run = three_checkpoints(tmp_path)
    flip_a_byte(run.checkpoint_dir / "60" / "weights.safetensors")
    with pytest.warns(UserWarning) as caught:
        assert run.resume_point() == run.checkpoint_dir / "40"
    text = " ".join(str(w.message) for w in caught)
    assert f"{str(run.checkpoint_dir / '60')!r} cannot be used" in text
    assert "changed since it was saved" in text
    assert f"using {str(run.checkpoint_dir / '40')!r}" in text

    opened = Run.open(run.path)
    with pytest.warns(UserWarning, match="cannot be used"):
        result = opened.train(steps=80, gif=False, test=False, progress=False)
    assert (result.start_step, result.steps) == (40, 80)
    assert any("60.unused" in note for note in result.notes)  # set aside, not deleted
    assert (run.checkpoint_dir / "60.unused" / "weights.safetensors").is_file()
    assert checkpoint.read(run.checkpoint_dir / "60").state["num_steps"] == 60  # saved anew
    assert Run.open(run.path).resume_point() == run.checkpoint_dir / "80"
    flip_a_byte(run.checkpoint_dir / "80" / "weights.safetensors")
    with pytest.warns(UserWarning, match="checkpoints/80' cannot be used") as caught:
        assert opened.resume_point() == run.checkpoint_dir / "60"  # the new 60 is not skipped
    assert len(caught) == 1


def test_checkpoint_step_is_used_as_asked_and_never_replaced(tmp_path: Path) -> None:
    run = three_checkpoints(tmp_path)
    assert run.resume_point(20) == run.checkpoint_dir / "20"
    assert run.load_agent(checkpoint_step=20).num_steps == 20
    with pytest.raises(CheckpointError, match=r"no checkpoint at step 50 .*steps: 20, 40, 60"):
        run.resume_point(50)
    flip_a_byte(run.checkpoint_dir / "40" / "optimizer.safetensors")
    with pytest.raises(CheckpointError, match="changed since it was saved"):
        Run.open(run.path).resume_point(40)
    result = Run.open(run.path).train(
        steps=40, gif=False, test=False, progress=False, checkpoint_step=20
    )
    assert (result.start_step, result.steps) == (20, 40)


def test_damaged_final_agent_falls_back_to_a_checkpoint_for_testing(tmp_path: Path) -> None:
    run = three_checkpoints(tmp_path)
    flip_a_byte(run.agent_dir / "weights.safetensors")
    flip_a_byte(run.checkpoint_dir / "60" / "weights.safetensors")
    with pytest.warns(UserWarning) as caught:
        agent = run.load_agent()
    assert agent.num_steps == 40
    text = " ".join(str(w.message) for w in caught)
    assert f"{str(run.agent_dir)!r} cannot be used" in text
    assert f"{str(run.checkpoint_dir / '60')!r} cannot be used" in text


def test_no_checkpoint_that_loads_is_one_error_naming_the_newest(tmp_path: Path) -> None:
    run = three_checkpoints(tmp_path)
    for step in (20, 40, 60):
        flip_a_byte(run.checkpoint_dir / str(step) / "weights.safetensors")
    with pytest.raises(CheckpointError, match=r"No checkpoint of the run .* loads: each of its 3"):
        run.resume_point()


def test_checkpoint_of_another_run_in_the_checkpoints_folder_is_skipped(tmp_path: Path) -> None:
    import shutil

    run = three_checkpoints(tmp_path)
    other = renshu.A2C("shower", n_steps=5, net=(8,), seed=0)
    other.fit(10, progress=False)
    other.save(run.checkpoint_dir / "99999", replay=True)
    shutil.copytree(run.checkpoint_dir / "40", run.checkpoint_dir / "99998")
    with pytest.warns(UserWarning) as caught:
        assert run.resume_point() == run.checkpoint_dir / "60"
    text = " ".join(str(w.message) for w in caught)
    assert "is a a2c agent, but the run trains dqn" in text
    assert "is at step 40, but its folder is named 99998" in text


def test_unknown_algo_in_config_yaml_names_the_known_ones(tmp_path: Path) -> None:
    run = Run.create("shower", steps=60, options=TINY, runs_dir=tmp_path, check_env=False)
    text = (run.path / "config.yaml").read_text().replace("algo: dqn", "algo: sac")
    (run.path / "config.yaml").write_text(text)
    known = r"algo must be \"dqn\", \"drqn\", \"ppo\", \"a2c\", \"a3c\", got 'sac'"
    with pytest.raises(ConfigError, match=known):
        Run.open(run.path)


PPO_TINY = {"n_steps": 8, "batch_size": 8, "n_epochs": 1, "net": [8]}


def test_ppo_run_has_only_ppo_columns_and_plot_names_them(tmp_path: Path) -> None:
    run = Run.create(
        IdentityEnv(), algo="ppo", steps=64, options=PPO_TINY, runs_dir=tmp_path, test_episodes=1
    )
    run.train(gif=False, log_every=16)
    data = read_metrics(run.path)
    assert not set(data) & {"losses/td_loss", "losses/q_values", "charts/epsilon"}
    assert (~np.isnan(data["losses/policy_loss"])).sum() == 4
    with pytest.raises(ConfigError) as info:
        plot_runs([run.path], metric="losses/td_loss", out=tmp_path / "x.png")
    assert str(info.value).startswith(
        "PPO does not log losses/td_loss; it logs: losses/policy_loss, losses/value_loss, "
    )
    assert not (tmp_path / "x.png").exists()


def test_extending_a_run_stretches_its_schedules_to_the_new_total(tmp_path: Path) -> None:
    options = {**PPO_TINY, "lr_schedule": "linear", "clip_range_schedule": "linear"}

    def create(name: str, steps: int) -> Run:
        return Run.create(
            IdentityEnv(), algo="ppo", steps=steps, options=options, runs_dir=tmp_path, name=name
        )

    def rates(run: Run, after: int) -> list[tuple[float, float]]:
        data = read_metrics(run.path)
        logged = (data["step"] > after) & ~np.isnan(data["charts/learning_rate"])
        return list(zip(data["step"][logged], data["charts/learning_rate"][logged], strict=True))

    extended, straight = create("extended", 64), create("straight", 128)
    assert extended.schedule_change(64) is None
    extended.train(gif=False, test=False, log_every=16)
    assert rates(extended, 0)[-1] == (64, 0.0)  # the rate ends at 0 with the run
    again = Run.open(extended.path, env=IdentityEnv())
    assert again.schedule_change(128) == (
        "Schedules stretched from 64 to 128 steps (learning rate, clip range): from here on "
        "each has the value a 128-step run has at the same step."
    )
    again.train(steps=128, gif=False, test=False, log_every=16)
    straight.train(gif=False, test=False, log_every=16)
    assert rates(again, 64) == rates(straight, 64)  # a 128-step run's from step 64 on
    assert rates(again, 64)[0] == (80, pytest.approx(3e-4 * (1 - 80 / 128)))


def test_extending_a_prioritized_dqn_run_stretches_beta(tmp_path: Path) -> None:
    class Betas(renshu.Callback):
        """beta of every replay sample, by step."""

        def __init__(self) -> None:
            self.seen: dict[int, float] = {}

        def on_train_begin(self, logs: dict) -> None:
            buffer = self.agent.buffer
            for name in ("sample", "sample_arrays"):
                drawn = getattr(buffer, name)

                def spy(*args, _drawn=drawn, **kwargs):  # type: ignore[no-untyped-def]
                    self.seen[self.agent.num_steps] = kwargs["beta"]
                    return _drawn(*args, **kwargs)

                setattr(buffer, name, spy)

    options = {**TINY, "prioritized": True}
    run = Run.create(IdentityEnv(), steps=200, options=options, runs_dir=tmp_path)
    assert run.settings["config"]["per_beta_steps"] is None  # over the run's total
    run.train(gif=False, test=False)
    again = Run.open(run.path, env=IdentityEnv())
    assert again.schedule_change(400) == (
        "Schedules stretched from 200 to 400 steps (prioritized replay's beta): from here on "
        "each has the value a 400-step run has at the same step."
    )
    betas = Betas()
    again.train(steps=400, gif=False, test=False, callbacks=[betas])
    seen = betas.seen
    assert len(seen) > 100 and min(seen) > 200 and seen[400] == pytest.approx(1.0)
    assert all(beta == pytest.approx(0.4 + 0.6 * step / 400) for step, beta in seen.items())

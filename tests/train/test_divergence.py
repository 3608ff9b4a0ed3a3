"""Training that diverges (NaN or inf losses, weights, actions) stops with DivergenceError at the
source, names the options to change, never hands NaN to the env and never saves it."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces

import renshu
from renshu.agents.dqn import mse_loss
from renshu.cli import main
from renshu.envs.toy import ScriptedEnv
from renshu.errors import DivergenceError

torch.set_num_threads(1)

ALGOS = {"dqn": {"warmup_steps": 50, "batch_size": 16}, "ppo": {"n_steps": 32}, "a2c": {}}


@pytest.fixture(autouse=True)
def _quiet_overflow() -> Any:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def huge_reward_env(box: bool = False) -> ScriptedEnv:
    """Rewards of 1e30 a step: returns and value losses overflow float32."""

    def reset(env: ScriptedEnv) -> tuple[np.ndarray, dict[str, Any]]:
        env.t = 0  # type: ignore[attr-defined]
        return np.zeros(1, np.float32), {}

    def step(env: ScriptedEnv, action: Any) -> tuple[Any, ...]:
        env.t += 1  # type: ignore[attr-defined]
        return np.full(1, env.t / 10, np.float32), 1e30, False, env.t >= 10, {}  # type: ignore[attr-defined]

    actions = spaces.Box(-1.0, 1.0, (1,), np.float32) if box else None
    return ScriptedEnv(reset, step, action_space=actions)


def agent_for(algo: str, env: Any, **options: Any) -> Any:
    return getattr(renshu, algo.upper())(env, seed=0, **{**ALGOS[algo], **options})


@pytest.mark.parametrize("algo", list(ALGOS))
def test_a_huge_learning_rate_stops_each_algorithm_with_divergence_error(algo: str) -> None:
    agent = agent_for(algo, "CartPole-v1", learning_rate=1e30)
    with pytest.raises(DivergenceError) as caught:
        agent.fit(2_000, progress=False)
    message = " ".join(str(caught.value).split())
    assert f"{algo.upper()} diverged at training step " in message
    assert "became NaN or inf" in message
    assert "a learning rate too large (learning_rate=1e+30)" in message
    assert "Lower learning_rate (try 1e+29 or less)" in message
    assert "lower max_grad_norm (now " in message
    assert agent.num_steps < 2_000  # it stopped at the divergence, not at the end


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
@pytest.mark.parametrize("box", [False, True])
def test_rewards_of_1e30_stop_on_policy_training_and_suggest_normalize_reward(
    algo: str, box: bool
) -> None:
    agent = agent_for(algo, huge_reward_env(box))
    with pytest.raises(DivergenceError) as caught:
        agent.fit(500, progress=False)
    message = " ".join(str(caught.value).split())
    assert "the policy or value loss became NaN or inf" in message
    assert "or set normalize_reward=true" in message
    assert "failed the environment check" not in message


@pytest.mark.parametrize(
    ("algo", "options"),
    [
        ("dqn", {"loss": lambda q, t, w: mse_loss(q, t, w)}),  # a custom loss: torch autograd
        ("ppo", {"shared": True}),  # a shared torso: torch autograd
        ("a2c", {"shared": True}),
    ],
)
def test_the_torch_paths_detect_divergence_too(algo: str, options: dict[str, Any]) -> None:
    agent = agent_for(algo, "CartPole-v1", learning_rate=1e30, **options)
    assert agent._fast is None or getattr(agent._fast, "loss", None) is None
    with pytest.raises(DivergenceError, match="became NaN or inf"):
        agent.fit(2_000, progress=False, log_every=200)


def test_nan_box_actions_never_reach_the_env_and_the_env_is_not_blamed() -> None:
    seen: list[np.ndarray] = []

    def reset(env: ScriptedEnv) -> tuple[np.ndarray, dict[str, Any]]:
        return np.zeros(1, np.float32), {}

    def step(env: ScriptedEnv, action: Any) -> tuple[Any, ...]:
        seen.append(np.array(action))
        return np.zeros(1, np.float32), 0.0, False, False, {}

    env = ScriptedEnv(reset, step, action_space=spaces.Box(-1.0, 1.0, (2,), np.float32))
    agent = agent_for("ppo", env)
    agent.fit(40, progress=False)
    with torch.no_grad():
        agent._flat.data.fill_(float("nan"))  # what a diverged update leaves
    seen.clear()
    with pytest.raises(DivergenceError, match="an action the policy chose became NaN or inf"):
        agent.fit(40, progress=False)
    assert seen == []  # the env never saw the NaN actions (nor was blamed for them)


@pytest.mark.parametrize("fast", [True, False])
def test_infinite_sampled_actions_stop_training_though_clipping_made_them_finite(
    fast: bool,
) -> None:
    """A finite log std beyond float32's exp gave inf actions: clipped to the bounds they
    reached the env, the rollout (and a checkpoint) stored inf, and a resume failed on it."""
    agent = agent_for("ppo", "Pendulum-v1")
    agent.fit(40, progress=False)
    if not fast:
        agent._fast = None  # the torch path
    with torch.no_grad():
        agent.policy.dist.log_std.fill_(100.0)  # finite weights; exp(100) is inf in float32
    with pytest.raises(DivergenceError, match="an action the policy chose became NaN or inf"):
        agent.fit(40, progress=False)
    rollout = agent.rollout
    assert np.isfinite(rollout.actions[: rollout.pos]).all()  # nothing infinite was stored


@pytest.mark.parametrize("algo", list(ALGOS))
def test_diverged_weights_are_never_saved_over_the_last_good_checkpoint(
    algo: str, tmp_path: Path
) -> None:
    agent = agent_for(algo, "CartPole-v1")
    agent.fit(100, progress=False)
    good = agent.save_checkpoint(tmp_path)
    before = {f.name: f.read_bytes() for f in good.iterdir()}
    network = next(iter(agent._networks().values()))
    with torch.no_grad():
        next(network.parameters()).fill_(float("inf"))
    with pytest.raises(DivergenceError, match="Nothing was saved"):
        agent.save_checkpoint(tmp_path)  # the same step: would replace the good one
    with pytest.raises(DivergenceError, match="Nothing was saved"):
        agent.save(tmp_path / "agent")
    assert {f.name: f.read_bytes() for f in good.iterdir()} == before
    assert not (tmp_path / "agent").exists()
    renshu.load(good)  # still loads


def test_renshu_train_exits_1_keeps_the_last_checkpoint_and_says_how_to_go_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--runs-dir", str(tmp_path), "--steps", "3000", "--checkpoint-every", "500"]
    sets = ["--set", "learning_rate=1e30", "--set", "warmup_steps=600", "--no-gif"]
    assert main(["train", "CartPole-v1", *args, *sets]) == 1
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    run = tmp_path / "CartPole-v1-dqn-0"
    found = re.search(r"error: DQN diverged at training step ([\d,]+) ", err)
    assert found is not None and 600 < int(found.group(1).replace(",", "")) < 1_000, err
    assert "test reward" not in captured.out  # no results table
    assert f"Kept {run / 'checkpoints' / '500'}, the newest checkpoint" in err
    assert f"Resume with: renshu train --resume {run}" in err
    assert (
        "or start a new run with the option changed, e.g.: renshu train CartPole-v1 --algo dqn "
        "--set learning_rate=1e+29" in err
    )
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["500"]
    assert not (run / "agent").exists()
    renshu.load(run / "checkpoints" / "500")


def test_renshu_train_diverging_before_any_checkpoint_says_to_start_a_new_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--runs-dir", str(tmp_path), "--steps", "3000", "--checkpoint-every", "10000"]
    sets = ["--set", "learning_rate=1e30", "--set", "warmup_steps=600", "--no-gif"]
    assert main(["train", "CartPole-v1", *args, *sets]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "No checkpoint was written before the divergence; start a new run with the option "
        "changed, e.g.: renshu train CartPole-v1 --algo dqn --set learning_rate=1e+29" in err
    )
    assert "Resume with" not in err
    assert not (tmp_path / "CartPole-v1-dqn-0" / "checkpoints").exists() or not any(
        (tmp_path / "CartPole-v1-dqn-0" / "checkpoints").iterdir()
    )

"""save_agent/load_agent for an algorithm other than DQN (the linear agent of test_agent.py):
an exact round trip (weights, optimizer, counters, RNG, the algorithm's own counter), an exact
resume, and a damaged piece refused naming its file and field."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import gymnasium
import numpy as np
import pytest
import torch
from test_agent import LinearAgent

from renshu import agents, checkpoint
from renshu.agents import Algorithm
from renshu.checkpoint import CheckpointError
from renshu.config import Range, to_plain, validate
from renshu.errors import ConfigError
from renshu.nets import NORM_EPS
from renshu.train.state import (
    check_saved_config,
    from_bounds_scaling,
    load_agent,
    loadable_device,
    save_agent,
)

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def linear_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """config.json's algo must be a registered name: register the linear agent for the test."""
    monkeypatch.setitem(
        agents.ALGORITHMS,
        "linear",
        Algorithm(
            name="linear",
            agent="test_agent:LinearAgent",
            config="test_agent:LinearConfig",
            summary="a linear test agent",
            metrics=("losses/dummy",),
        ),
    )


def trained(env: Any = "CartPole-v1", steps: int = 120, **options: Any) -> LinearAgent:
    agent = LinearAgent(env, seed=3, **options)
    agent.fit(steps, progress=False)
    return agent


def saved(agent: LinearAgent, path: Path) -> checkpoint.Checkpoint:
    save_agent(agent, path, replay=False, overwrite=False)
    return checkpoint.read(path)


def optimizer_tensors(agent: LinearAgent) -> dict[str, Any]:
    opt = agent.optimizer.state_dict()
    return {f"{i}.{k}": v for i, s in opt["state"].items() for k, v in s.items()}


def assert_same_values(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert sorted(a) == sorted(b)
    for key, value in a.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, b[key]), key
        else:
            assert value == b[key], key


def json_like(value: Any) -> Any:
    return json.loads(json.dumps(value))


def test_round_trip_restores_the_whole_training_state(tmp_path: Path) -> None:
    agent = trained()
    assert agent.learn_calls == 120
    loaded = load_agent(LinearAgent, saved(agent, tmp_path / "agent"))
    assert isinstance(loaded, LinearAgent)
    assert torch.equal(loaded.net.weight, agent.net.weight)
    assert torch.equal(loaded.net.bias, agent.net.bias)
    assert optimizer_tensors(agent)  # Adam has state to restore after 120 steps
    assert_same_values(optimizer_tensors(loaded), optimizer_tensors(agent))
    # the hyperparameters come back from JSON (a tuple such as Adam's betas as a list)
    assert json_like(loaded.optimizer.state_dict()["param_groups"]) == json_like(
        agent.optimizer.state_dict()["param_groups"]
    )
    assert loaded.counters == agent.counters
    assert loaded.counters.num_updates == 120
    assert loaded.rng.bit_generator.state == agent.rng.bit_generator.state
    assert loaded.learn_calls == 120
    assert to_plain(loaded.config) == to_plain(agent.config)
    assert loaded.env_spec == "CartPole-v1" and loaded.env is not None


def test_a_resumed_run_steps_exactly_as_an_uninterrupted_one(tmp_path: Path) -> None:
    agent = trained()
    path = agent.save_checkpoint(tmp_path / "checkpoints")  # closes the open episodes
    assert path.name == "120"
    loaded = load_agent(LinearAgent, checkpoint.read(path))
    agent.fit(80, progress=False)
    loaded.fit(80, progress=False)
    assert torch.equal(loaded.net.weight, agent.net.weight)
    assert loaded.counters == agent.counters
    assert loaded.learn_calls == agent.learn_calls == 200
    assert loaded.rng.bit_generator.state == agent.rng.bit_generator.state


def test_a_window_and_encoded_observations_round_trip(tmp_path: Path) -> None:
    agent = trained(steps=20, window=2)
    loaded = load_agent(LinearAgent, saved(agent, tmp_path / "agent"))
    assert loaded.obs_shape == (2, 4)
    obs = np.ones((2, 4), np.float32)
    assert loaded.act(obs) == agent.act(obs)


def test_damaged_extra_counter_is_refused_naming_the_field(tmp_path: Path) -> None:
    agent = trained(steps=10)
    agent.learn_calls = -3
    ckpt = saved(agent, tmp_path / "agent")  # a well-formed file holding a bad value
    with pytest.raises(CheckpointError) as caught:
        load_agent(LinearAgent, ckpt)
    text = str(caught.value)
    assert "state.json" in text and "is damaged or was edited" in text
    assert "learn_calls must be an int in [0, " in text and "found -3" in text


def test_missing_extra_counter_is_refused(tmp_path: Path) -> None:
    ckpt = saved(trained(steps=10), tmp_path / "agent")
    del ckpt.state["learn_calls"]
    with pytest.raises(
        CheckpointError, match=r"learn_calls must be an int in \[0, \d+\], found None"
    ):
        load_agent(LinearAgent, ckpt)


def test_damaged_saved_option_is_named(tmp_path: Path) -> None:
    ckpt = saved(trained(steps=10), tmp_path / "agent")
    ckpt.config["config"]["learning_rate"] = -1.0
    with pytest.raises(CheckpointError, match=r"config\.learning_rate is invalid"):
        load_agent(LinearAgent, ckpt)


def test_weights_of_another_network_are_refused(tmp_path: Path) -> None:
    ckpt = saved(trained(steps=10), tmp_path / "agent")
    weights = ckpt.tensors["weights"]
    weights["linear.weight"] = torch.zeros(3, 4)
    with pytest.raises(CheckpointError) as caught:
        load_agent(LinearAgent, ckpt)
    text = str(caught.value)
    assert "weights.safetensors" in text and "wrong shape ['linear.weight']" in text


def test_damaged_optimizer_state_is_refused(tmp_path: Path) -> None:
    ckpt = saved(trained(steps=10), tmp_path / "agent")
    key = next(k for k, v in ckpt.tensors["optimizer"].items() if v.dim() > 0)
    ckpt.tensors["optimizer"][key] = torch.zeros(7)
    with pytest.raises(CheckpointError, match=f"optimizer tensor {key!r} is torch.float32"):
        load_agent(LinearAgent, ckpt)
    ckpt = checkpoint.read(tmp_path / "agent")
    ckpt.state["optimizer"]["param_groups"][0]["lr"] = "fast"
    with pytest.raises(CheckpointError, match=r"optimizer\.param_groups do not match"):
        load_agent(LinearAgent, ckpt)


def test_an_instance_env_is_not_saved_and_must_be_given_again(tmp_path: Path) -> None:
    agent = trained(gymnasium.make("CartPole-v1"), steps=10)
    loaded = load_agent(LinearAgent, saved(agent, tmp_path / "agent"))
    assert loaded.env is None and loaded.env_name == "CartPole-v1"
    assert loaded.act(np.zeros(4, np.float32)) == agent.act(np.zeros(4, np.float32))
    with pytest.raises(ConfigError, match="it was trained on CartPole-v1"):
        loaded.fit(10)
    loaded.set_env(gymnasium.make("CartPole-v1"))
    loaded.fit(10, progress=False)
    assert loaded.num_steps == 20


def test_loading_onto_an_env_with_other_spaces_is_refused(tmp_path: Path) -> None:
    ckpt = saved(trained(steps=10), tmp_path / "agent")
    with pytest.raises(CheckpointError, match="do not match the saved agent's"):
        load_agent(LinearAgent, ckpt, gymnasium.make("Acrobot-v1"))


@dataclass
class FixedAdamConfig:
    """An algorithm that always uses Adam: its config has no ``optimizer`` option."""

    learning_rate: Annotated[float, Range(gt=0)] = 1e-2
    window: Annotated[int, Range(1, 10)] = 1
    num_envs: Annotated[int, Range(ge=1)] = 1
    device: str = "cpu"
    threads: Annotated[int, Range(ge=1)] | None = 1
    seed: Annotated[int, Range(ge=0)] | None = None

    def __post_init__(self) -> None:
        validate(self)


class FixedAdamAgent(LinearAgent):
    config_class = FixedAdamConfig

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.config.learning_rate)


def test_an_algorithm_without_an_optimizer_option_round_trips(tmp_path: Path) -> None:
    agent = FixedAdamAgent("CartPole-v1", seed=3)
    agent.fit(20, progress=False)
    loaded = load_agent(FixedAdamAgent, saved(agent, tmp_path / "agent"))
    assert torch.equal(loaded.net.weight, agent.net.weight)
    assert_same_values(optimizer_tensors(loaded), optimizer_tensors(agent))


# ---- helpers ---------------------------------------------------------------------------------


def test_check_saved_config_names_the_bad_option(tmp_path: Path) -> None:
    file = tmp_path / "config.json"
    check_saved_config(FixedAdamConfig, {"learning_rate": 0.5, "window": 2}, file)
    with pytest.raises(CheckpointError) as caught:
        check_saved_config(FixedAdamConfig, {"window": 2, "learning_rate": 0}, file)
    text = str(caught.value)
    assert "config.json" in text and "config.learning_rate is invalid" in text
    with pytest.raises(CheckpointError, match=r"config\.window is invalid"):
        check_saved_config(FixedAdamConfig, {"window": "wide"}, file)
    with pytest.raises(CheckpointError, match=r"config\.colour is invalid \(Unknown option"):
        check_saved_config(FixedAdamConfig, {"colour": "red"}, file)


def test_loadable_device(tmp_path: Path) -> None:
    file = tmp_path / "agent" / "config.json"
    assert loadable_device("auto", file) == "auto"
    assert loadable_device("cpu", file) == "cpu"
    assert loadable_device(3, file) == 3  # left for the config's validation to name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert loadable_device("cuda:99", file) == "cpu"
    assert len(caught) == 1
    assert "was saved on device 'cuda:99', which is not available here" in str(caught[0].message)
    with pytest.raises(CheckpointError, match=r"config\.device must be a device"):
        loadable_device("tpu", file)


def test_from_bounds_scaling_turns_bounds_into_running_statistics() -> None:
    norm = "q.preprocess.norm."
    expected = {
        f"{norm}mean": torch.zeros(2, dtype=torch.float64),
        f"{norm}var": torch.ones(2, dtype=torch.float64),
        f"{norm}count": torch.tensor(0.0, dtype=torch.float64),
        f"{norm}pending": torch.zeros(3, 2),
        f"{norm}pending_count": torch.tensor(0),
        "q.layers.0.weight": torch.zeros(4, 2),
    }
    weights = {
        "q.preprocess.centre": torch.tensor([1.0, -2.0]),
        "q.preprocess.inv_half": torch.tensor([0.5, 4.0]),
        "q.layers.0.weight": torch.ones(4, 2),
    }
    out = from_bounds_scaling(weights, expected)
    assert "q.preprocess.centre" not in out and "q.preprocess.inv_half" not in out
    assert out[f"{norm}mean"].tolist() == [1.0, -2.0]
    var = out[f"{norm}var"]
    assert torch.allclose(var, torch.tensor([4.0, 1 / 16], dtype=torch.float64) - NORM_EPS)
    assert out[f"{norm}count"].item() == 1e12
    assert out[f"{norm}pending"].shape == (3, 2) and out[f"{norm}pending_count"].item() == 0
    assert torch.equal(out["q.layers.0.weight"], torch.ones(4, 2))
    # bounds of another shape: left as they are, for the weights check to name
    odd = {"q.preprocess.centre": torch.zeros(3), "q.preprocess.inv_half": torch.ones(3)}
    assert from_bounds_scaling(odd, expected).keys() == odd.keys()


# ---- optimizer and normalizer state out of range; options missing from config.json -----------


@pytest.fixture(scope="module")
def ppo_saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PPO agent with observation normalization and reward scaling, after some updates."""
    from renshu.agents.ppo import PPO

    agent = PPO(
        "CartPole-v1", n_steps=16, batch_size=16, num_envs=2, net=(8,), seed=0,
        normalize_reward=True,
    )  # fmt: skip
    agent.fit(40, progress=False)
    assert agent.num_updates > 0
    return agent.save(tmp_path_factory.mktemp("ppo") / "agent", replay=True)


def _set(tensors: dict[str, torch.Tensor], key: str, value: float) -> None:
    tensors[key] = torch.full_like(tensors[key], value)


@pytest.mark.parametrize(
    ("damage", "file", "field"),
    [
        (lambda c: _set(c.tensors["weights"], "policy.preprocess.norm.var", -1.0),
         "weights.safetensors", "policy.preprocess.norm.var"),
        (lambda c: _set(c.tensors["weights"], "reward_scale.norm.count", -5.0),
         "weights.safetensors", "reward_scale.norm.count"),
        (lambda c: _set(c.tensors["weights"], "policy.preprocess.norm.pending_count", 99),
         "weights.safetensors", "policy.preprocess.norm.pending_count"),
        (lambda c: _set(c.tensors["optimizer"], "0.exp_avg_sq", -1e-3),
         "optimizer.safetensors", "0.exp_avg_sq"),
        (lambda c: _set(c.tensors["optimizer"], "0.step", -1.0),
         "optimizer.safetensors", "0.step"),
        (lambda c: _set(c.tensors["optimizer"], "0.step", 1e30),
         "optimizer.safetensors", "0.step"),
        (lambda c: c.state["optimizer"]["param_groups"][0].update(lr=-3e-4),
         "state.json", "param_groups[0].lr"),
        (lambda c: c.state["optimizer"]["param_groups"][0].update(betas=[0.9, 1.5]),
         "state.json", "param_groups[0].betas"),
        (lambda c: c.state["optimizer"]["param_groups"][0].update(eps=-1e-8),
         "state.json", "param_groups[0].eps"),
        (lambda c: c.tensors["optimizer"].clear(), "optimizer.safetensors", "0 of 1 parameter"),
    ],
    ids=[
        "negative-variance", "negative-count", "pending-past-the-buffer", "negative-second-moment",
        "step-minus-one", "step-overflow", "negative-lr", "beta-above-1", "negative-eps",
        "empty-optimizer-file",
    ],
)  # fmt: skip
def test_optimizer_and_normalizer_state_out_of_range_is_refused_naming_file_and_field(
    ppo_saved: Path, damage: Any, file: str, field: str
) -> None:
    from renshu.agents.ppo import PPO

    ckpt = checkpoint.read(ppo_saved)
    damage(ckpt)
    with pytest.raises(CheckpointError) as caught:
        load_agent(PPO, ckpt)
    text = str(caught.value)
    assert file in text and field in text and "Load another checkpoint" in text


def test_undamaged_optimizer_and_normalizer_state_loads(ppo_saved: Path) -> None:
    from renshu.agents.ppo import PPO

    agent = load_agent(PPO, checkpoint.read(ppo_saved))
    assert agent.num_updates > 0 and agent.optimizer.state_dict()["state"]


def test_saved_config_missing_an_option_is_refused_naming_it(tmp_path: Path) -> None:
    ckpt = saved(trained(steps=10), tmp_path / "agent")
    del ckpt.config["config"]["seed"]
    with pytest.raises(CheckpointError, match=r"config\.seed is missing"):
        load_agent(LinearAgent, ckpt)
    agent = load_agent(LinearAgent, ckpt, seed=5)  # given to load: nothing is missing
    assert agent.config.seed == 5


def test_options_format_1_did_not_save_take_their_defaults_only_in_format_1(
    tmp_path: Path,
) -> None:
    import shutil

    from renshu.agents.dqn import DQN

    fixture = Path(__file__).parents[1] / "fixtures" / "agent_v010_shower"
    ckpt = checkpoint.read(fixture)
    assert "normalize_obs" not in ckpt.config["config"]
    agent = load_agent(DQN, ckpt)
    assert agent.config.normalize_obs is True and agent.config.per_beta_steps is None
    del ckpt.config["config"]["seed"]  # format 1 saved the seed: it may not be missing
    with pytest.raises(CheckpointError, match=r"config\.seed is missing"):
        load_agent(DQN, ckpt)
    copy = tmp_path / "v2"
    shutil.copytree(fixture, copy)
    ckpt = checkpoint.read(copy)
    ckpt.config["format_version"] = 2  # format 2 saves every option
    with pytest.raises(CheckpointError, match=r"config\.(per_beta_steps|normalize_obs) is miss"):
        load_agent(DQN, ckpt)


@pytest.mark.parametrize(
    ("algo", "added"),
    [("DQN", ("eps_fraction",)), ("PPO", ("recurrent", "lstm_size", "seq_len"))],
)
def test_an_agent_saved_in_format_2_loads_without_the_options_format_3_added(
    algo: str, added: tuple[str, ...], tmp_path: Path
) -> None:
    """Format 3 added options; an agent saved before them was refused as "damaged"."""
    import hashlib

    import renshu

    agent = getattr(renshu, algo)("CartPole-v1", seed=0)
    path = agent.save(tmp_path / "a")
    config = json.loads((path / "config.json").read_text())
    config["format_version"] = 2
    for name in added:
        del config["config"][name]
    (path / "config.json").write_text(json.dumps(config))
    manifest = json.loads((path / "manifest.json").read_text())
    digest = hashlib.sha256((path / "config.json").read_bytes()).hexdigest()
    manifest["sha256"]["config.json"] = digest
    (path / "manifest.json").write_text(json.dumps(manifest))
    loaded = renshu.load(path)
    assert all(getattr(loaded.config, n) == getattr(agent.config, n) for n in added)
    config["format_version"] = 3  # the format that has them must have them
    (path / "config.json").write_text(json.dumps(config))
    manifest["sha256"]["config.json"] = hashlib.sha256(
        (path / "config.json").read_bytes()
    ).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=rf"config\.{added[0]} is missing"):
        renshu.load(path)


def test_a_drqn_saved_in_format_3_keeps_learning_plain_q_values(tmp_path: Path) -> None:
    """Format 4 added DRQN's value_rescale (default True); a DRQN saved before it learned plain
    Q-values, and resumes so, while a format-4 file without the option is refused."""
    import hashlib

    import renshu

    path = renshu.DRQN("CartPole-v1", seed=0).save(tmp_path / "a")

    def rewrite(version: int) -> None:
        config = json.loads((path / "config.json").read_text())
        config["format_version"] = version
        config["config"].pop("value_rescale", None)
        (path / "config.json").write_text(json.dumps(config))
        manifest = json.loads((path / "manifest.json").read_text())
        digest = hashlib.sha256((path / "config.json").read_bytes()).hexdigest()
        manifest["sha256"]["config.json"] = digest
        (path / "manifest.json").write_text(json.dumps(manifest))

    rewrite(3)
    assert renshu.load(path).config.value_rescale is False
    assert renshu.load(path, value_rescale=True).config.value_rescale is True
    rewrite(4)
    with pytest.raises(CheckpointError, match=r"config\.value_rescale is missing"):
        renshu.load(path)

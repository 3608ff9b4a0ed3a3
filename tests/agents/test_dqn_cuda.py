"""DQN on a GPU: every option trains with device="cuda", and checkpoints move between devices.

Skipped without CUDA. On the CPU the default MLP takes NumPy fast paths; on a GPU everything is
torch (flat parameters, fused Adam, tensors created on the agent's device).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import renshu
from renshu.agents.dqn import DQN
from renshu.envs.toy import IdentityEnv
from renshu.fastpath import FlatParams
from renshu.nets import build_q_network
from renshu.replay import ReplayBuffer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

FAST = dict(
    warmup_steps=100,
    buffer_size=1_000,
    batch_size=32,
    learning_rate=3e-3,
    gamma=0.5,
    target_update=50,
    eps_anneal_steps=200,
    net=(32,),
    seed=0,
)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"double": True},
        {"dueling": True},
        {"prioritized": True},
        {"n_step": 3},
        {"window": 2},
        {"loss": "mse"},
        {"loss": lambda q, t, w: ((q - t) ** 2 * w).mean()},
        {"policy": "boltzmann", "tau": 0.1},
        {"optimizer": "rmsprop"},
        {"optimizer": "rmsprop_graves"},
        {"optimizer": lambda params: torch.optim.SGD(params, lr=0.05)},
        {"target_update": 1e-2},
        {"train_every": 4, "gradient_steps": 2},
        {"max_grad_norm": None},
    ],
    ids=lambda o: (
        ",".join(f"{k}={v if not callable(v) else 'fn'}" for k, v in o.items()) or "default"
    ),
)
def test_every_option_trains_on_cuda(options: dict[str, object]) -> None:
    agent = DQN(IdentityEnv(n=4, length=10), device="cuda", **{**FAST, **options})
    assert agent.device.type == "cuda"
    assert agent._fast is None  # the NumPy path is CPU-only
    agent.fit(steps=400, progress=False)
    assert agent.num_updates > 0
    for net in (agent.q_network, agent.target_network):
        assert all(p.is_cuda and torch.isfinite(p).all() for p in net.parameters())
    actions = agent.act(np.eye(4, dtype=np.float32))
    assert actions.shape == (4,)
    assert len(agent.test(episodes=2).history["episode_reward"]) == 2


def test_vector_envs_and_a_cnn_on_cuda() -> None:
    agent = DQN("catch16", device="cuda", num_envs=4, window=4, **{**FAST, "net": "cnn"})
    agent.fit(steps=300, progress=False)
    assert agent.q_network.kind == "cnn" and agent.num_updates > 0
    batch = agent.buffer.sample(8)
    assert all(t.is_cuda for t in batch[:-1]) and batch.obs.dtype == torch.uint8


def test_checkpoint_moves_between_cuda_and_cpu(tmp_path) -> None:
    agent = DQN(IdentityEnv(), device="cuda", **FAST)
    agent.fit(steps=300, progress=False)
    path = agent.save(tmp_path / "agent", replay=True)
    on_cpu = renshu.load(path, env=IdentityEnv(), device="cpu")
    obs = np.eye(4, dtype=np.float32)
    np.testing.assert_array_equal(agent.act(obs), on_cpu.act(obs))
    on_cpu.fit(steps=50, progress=False)  # and it trains on, on the CPU's fast paths
    back = renshu.load(on_cpu.save(tmp_path / "again"), env=IdentityEnv(), device="cuda")
    np.testing.assert_array_equal(on_cpu.act(obs), back.act(obs))


def test_flat_params_on_cuda() -> None:
    net = build_q_network((4,), np.dtype(np.float32), 3, net=(16,)).cuda()
    reference = build_q_network((4,), np.dtype(np.float32), 3, net=(16,)).cuda()
    reference.load_state_dict(net.state_dict())
    flat = FlatParams(net)
    assert flat.data.is_cuda and flat.grad is not None and flat.grad.is_cuda
    x = torch.randn(8, 4, device="cuda")
    net(x).pow(2).sum().backward()
    reference(x).pow(2).sum().backward()
    flat.clip_grad_norm_(0.1)
    torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.1)
    for p, q in zip(net.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad)


def test_replay_samples_on_cuda() -> None:
    import gymnasium

    space = gymnasium.spaces.Box(0, 1, (3,), np.float32)
    for window in (1, 3):
        buffer = ReplayBuffer(100, space, window=window, device="cuda", seed=0)
        frame, no = np.zeros((1, 3), np.float32), np.zeros(1, bool)
        for _ in range(20):
            buffer.add(frame, np.zeros(1), np.ones(1), frame, no, no)
        batch = buffer.sample(8)
        assert all(t.device.type == "cuda" for t in batch[:-1])

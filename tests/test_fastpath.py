"""Tests of renshu.fastpath: each fast path against the general (torch / autograd) path."""

from __future__ import annotations

import copy

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from torch import nn

from renshu.agents.dqn import huber_loss, mse_loss
from renshu.fastpath import (
    SIGMOID_TANH_MIN_SIZE,
    FlatParams,
    NumpyDQNLoss,
    NumpyMLP,
    SingleEnv,
    limit_threads,
    numpy_mlp_supported,
    tanh_,
)
from renshu.nets import build_q_network
from renshu.replay import ArrayBatch

torch.set_num_threads(1)

F32 = np.dtype(np.float32)


def mlp(
    obs_shape: tuple[int, ...] = (4,),
    dtype: np.dtype = F32,
    n_actions: int = 3,
    *,
    net: object = (16, 8),
    dueling: bool = False,
    normalize: bool = False,
    seed: int = 0,
) -> nn.Module:
    torch.manual_seed(seed)
    return build_q_network(
        obs_shape,
        dtype,
        n_actions,
        net=net,
        dueling=dueling,
        normalize=normalize,
    )


def random_batch(
    rng: np.random.Generator, obs_shape: tuple[int, ...], dtype: np.dtype, n_actions: int, B: int
) -> ArrayBatch:
    def obs() -> np.ndarray:
        if dtype == np.uint8:
            return rng.integers(0, 256, (B, *obs_shape)).astype(np.uint8)
        return (rng.normal(size=(B, *obs_shape)) * 3).astype(dtype)

    return ArrayBatch(
        obs=obs(),
        actions=rng.integers(0, n_actions, B),
        rewards=rng.normal(size=B).astype(np.float32) * 2,
        next_obs=obs(),
        dones=(rng.random(B) < 0.3).astype(np.float32),
        discounts=np.full(B, 0.9, np.float32) ** rng.integers(1, 4, B).astype(np.float32),
        weights=rng.uniform(0.2, 1.0, B).astype(np.float32),
        indices=np.arange(B),
    )


def autograd_loss(
    online: nn.Module, target: nn.Module, batch: ArrayBatch, loss: str, double: bool
) -> tuple[float, float, np.ndarray, list[torch.Tensor]]:
    """What agents/dqn.py computes with autograd (its general path), and the gradients."""
    t = {k: torch.from_numpy(np.asarray(v)) for k, v in batch._asdict().items()}
    online.zero_grad(set_to_none=True)
    q = online(t["obs"]).gather(1, t["actions"].unsqueeze(1)).squeeze(1)
    with torch.no_grad():
        next_target = target(t["next_obs"])
        if double:
            next_q = next_target.gather(1, online(t["next_obs"]).argmax(1, keepdim=True)).squeeze(1)
        else:
            next_q = next_target.max(1).values
        td_target = t["rewards"] + t["discounts"] * (1.0 - t["dones"]) * next_q
    value = {"huber": huber_loss, "mse": mse_loss}[loss](q, td_target, t["weights"])
    value.backward()
    grads = [p.grad.detach().clone() for p in online.parameters()]  # type: ignore[union-attr]
    return (
        float(value.detach()),
        float(q.detach().mean()),
        (q.detach() - td_target).abs().numpy(),
        grads,
    )


CASES = [
    pytest.param({}, id="mlp"),
    pytest.param({"dueling": True}, id="dueling"),
    pytest.param({"net": ()}, id="linear"),
    pytest.param({"net": (32, 32, 16)}, id="deep"),
    pytest.param({"obs_shape": (8, 8), "dtype": np.dtype(np.uint8)}, id="uint8-image-mlp"),
    pytest.param({"obs_shape": (3, 2)}, id="window-3"),
    pytest.param(
        {"obs_shape": (2,), "normalize": True},
        id="normalized",
    ),
]


@pytest.mark.parametrize("loss", ["huber", "mse"])
@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_numpy_loss_gradient_equals_autograd(case: dict, loss: str, double: bool) -> None:
    obs_shape = case.get("obs_shape", (4,))
    dtype = case.get("dtype", F32)
    options = {k: v for k, v in case.items() if k not in ("obs_shape", "dtype")}
    online = mlp(obs_shape, dtype, 3, **options)
    target = mlp(obs_shape, dtype, 3, **options, seed=1)
    if options.get("normalize"):  # different statistics: the target must use its own
        rng = np.random.default_rng(7)
        online.preprocess.norm.update(rng.normal([50.0, 0.0], [30.0, 0.1], (40, 2)))
        target.preprocess.norm.update(rng.normal([20.0, 1.0], [10.0, 0.5], (40, 2)))
    reference_online, reference_target = copy.deepcopy(online), copy.deepcopy(target)
    flat = FlatParams(online)
    FlatParams(target, grads=False)
    fast = NumpyDQNLoss(NumpyMLP(online), NumpyMLP(target), loss=loss, double=double)
    rng = np.random.default_rng(3)
    for _ in range(3):
        batch = random_batch(rng, obs_shape, dtype, 3, 32)
        flat.grad.fill_(123.0)  # type: ignore[union-attr]  # must be overwritten, not added to
        value, q_mean, td_error = fast(batch)
        ref_value, ref_q, ref_error, ref_grads = autograd_loss(
            reference_online, reference_target, batch, loss, double
        )
        assert value == pytest.approx(ref_value, rel=1e-5, abs=1e-6)
        assert q_mean == pytest.approx(ref_q, rel=1e-5, abs=1e-6)
        np.testing.assert_allclose(np.abs(td_error), ref_error, rtol=1e-5, atol=1e-5)
        for p, ref in zip(online.parameters(), ref_grads, strict=True):
            torch.testing.assert_close(p.grad, ref, rtol=1e-4, atol=1e-6)


def test_numpy_q_values_apply_the_running_normalization_as_torch_does() -> None:
    """Normalized and clipped inputs (float32 and float64 observations, values far outside the
    statistics) give the same Q-values in NumPy as in torch, and follow later updates."""
    net = mlp((2,), normalize=True)
    norm = net.preprocess.norm
    rng = np.random.default_rng(0)
    norm.update(rng.normal([50.0, 0.0], [30.0, 0.01], (100, 2)))
    numpy_q = NumpyMLP(net)
    obs = np.array([[0.0, 0.0], [50.0, 5.0], [1e4, -3.0]], np.float32)  # last two clip
    for batch in (obs, obs.astype(np.float64)):
        expected = net(torch.from_numpy(batch)).detach().numpy()
        np.testing.assert_allclose(numpy_q(batch), expected, rtol=1e-6, atol=1e-6)
        torch_input = net.preprocess(torch.from_numpy(batch)).numpy()
        np.testing.assert_array_equal(numpy_q.input(batch), torch_input)  # bit for bit
    norm.update(rng.normal([-5.0, 2.0], 1.0, (100, 2)))  # the views follow the update
    expected = net(torch.from_numpy(obs)).detach().numpy()
    np.testing.assert_allclose(numpy_q(obs), expected, rtol=1e-6, atol=1e-6)


def test_unweighted_numpy_loss_equals_weighted_with_unit_weights() -> None:
    online, target = mlp(), mlp(seed=1)
    FlatParams(online)
    FlatParams(target, grads=False)
    weighted = NumpyDQNLoss(NumpyMLP(online), NumpyMLP(target), loss="huber", double=False)
    plain = NumpyDQNLoss(
        NumpyMLP(online), NumpyMLP(target), loss="huber", double=False, weighted=False
    )
    batch = random_batch(np.random.default_rng(0), (4,), F32, 3, 32)
    batch = batch._replace(weights=np.ones(32, np.float32))
    a = weighted(batch)
    grads = [p.grad.clone() for p in online.parameters()]  # type: ignore[union-attr]
    b = plain(batch)
    assert a[0] == pytest.approx(b[0], rel=1e-6) and a[1] == b[1]
    for p, g in zip(online.parameters(), grads, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", CASES)
def test_numpy_forward_equals_torch(case: dict) -> None:
    obs_shape = case.get("obs_shape", (4,))
    dtype = case.get("dtype", F32)
    options = {k: v for k, v in case.items() if k not in ("obs_shape", "dtype")}
    net = mlp(obs_shape, dtype, 5, **options)
    batch = random_batch(np.random.default_rng(0), obs_shape, dtype, 5, 7)
    expected = net(torch.from_numpy(batch.obs)).detach().numpy()
    np.testing.assert_allclose(NumpyMLP(net)(batch.obs), expected, rtol=1e-5, atol=1e-6)


def test_numpy_mlp_follows_in_place_updates_and_new_memory() -> None:
    net = mlp()
    numpy_net = NumpyMLP(net)
    obs = np.ones((2, 4), np.float32)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)  # in place: the views see it
    np.testing.assert_allclose(numpy_net(obs), net(torch.from_numpy(obs)).detach(), rtol=1e-6)
    FlatParams(net)  # new memory for every parameter
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.5)
    np.testing.assert_allclose(numpy_net(obs), net(torch.from_numpy(obs)).detach(), rtol=1e-6)


def test_unsupported_networks_take_the_general_path() -> None:
    assert numpy_mlp_supported(mlp())
    assert numpy_mlp_supported(mlp(dueling=True))
    assert not numpy_mlp_supported(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
    cnn = build_q_network((16, 16), np.dtype(np.uint8), 3)
    assert not numpy_mlp_supported(cnn)
    tanh = build_q_network((4,), F32, 2, activation="tanh")
    assert not numpy_mlp_supported(tanh)
    double = mlp().double()
    assert not numpy_mlp_supported(double)
    with pytest.raises(ValueError, match="NumpyMLP needs"):
        NumpyMLP(cnn)


def test_flat_params_are_views_and_keep_values() -> None:
    net = mlp()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    flat = FlatParams(net)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert flat.data.numel() == sum(p.numel() for p in net.parameters())
    net(torch.randn(5, 4)).sum().backward()
    params = list(net.parameters())
    assert params[0].grad is not None and params[0].grad.data_ptr() == flat.grad.data_ptr()  # type: ignore[union-attr]
    offset = 0
    for p in params:
        n = p.numel()
        torch.testing.assert_close(flat.grad[offset : offset + n], p.grad.reshape(-1))  # type: ignore[index,union-attr]
        offset += n
    # load_state_dict copies in place: the views survive.
    net.load_state_dict(before)
    torch.testing.assert_close(flat.data[: params[0].numel()], before["torso.1.weight"].reshape(-1))


def test_flat_params_reattach_grads_replaced_by_set_to_none() -> None:
    net = mlp()
    flat = FlatParams(net)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    optimizer.zero_grad(set_to_none=True)
    net(torch.randn(3, 4)).sum().backward()  # autograd now creates new gradient tensors
    expected = [p.grad.clone() for p in net.parameters()]  # type: ignore[union-attr]
    flat.attach_grads()
    for p, g in zip(net.parameters(), expected, strict=True):
        torch.testing.assert_close(p.grad, g)
    first = next(iter(net.parameters()))
    assert first.grad is not None and first.grad.data_ptr() == flat.grad.data_ptr()  # type: ignore[union-attr]
    flat.zero_grad()
    assert float(flat.grad.abs().sum()) == 0.0  # type: ignore[union-attr]


@pytest.mark.parametrize("max_norm", [0.05, 1e6])
def test_flat_clip_equals_torch_clip(max_norm: float) -> None:
    net, reference = mlp(), mlp()
    flat = FlatParams(net)
    x = torch.randn(6, 4)
    net(x).pow(2).sum().backward()
    reference(x).pow(2).sum().backward()
    flat.clip_grad_norm_(max_norm)
    torch.nn.utils.clip_grad_norm_(reference.parameters(), max_norm, foreach=True)
    for p, q in zip(net.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-7)


def test_flat_target_follow_lerps_and_copies_at_one() -> None:
    online, target = mlp(seed=0), mlp(seed=1)
    reference = copy.deepcopy(target)
    flat_online, flat_target = FlatParams(online), FlatParams(target, grads=False)
    flat_target.follow(flat_online, 0.25)
    with torch.no_grad():
        for r, o in zip(reference.parameters(), online.parameters(), strict=True):
            r.lerp_(o, 0.25)
    for p, r in zip(target.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, r, rtol=0, atol=0)
    flat_target.follow(flat_online, 1.0)
    for p, o in zip(target.parameters(), online.parameters(), strict=True):
        assert torch.equal(p, o)


# ----------------------------------------------------------------------------- SingleEnv
def rollout(envs: gymnasium.vector.VectorEnv, steps: int) -> list[tuple]:
    out = []
    obs, info = envs.reset(seed=5)
    out.append((obs.copy(), sorted(info)))
    rng = np.random.default_rng(0)
    for _ in range(steps):
        actions = rng.integers(0, 2, 1)
        obs, reward, term, trunc, info = envs.step(actions)
        final = info["final_obs"][0].copy() if "final_obs" in info else None
        out.append((obs.copy(), reward.copy(), term.copy(), trunc.copy(), final, sorted(info)))
    return out


def test_single_env_matches_sync_vector_env() -> None:
    sync = SyncVectorEnv(
        [lambda: gymnasium.make("CartPole-v1", max_episode_steps=30)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    single = SingleEnv(gymnasium.make("CartPole-v1", max_episode_steps=30))
    assert single.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert single.observation_space == sync.observation_space
    assert single.action_space == sync.action_space
    a, b = rollout(sync, 200), rollout(single, 200)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert len(x) == len(y)
        for u, v in zip(x, y, strict=True):
            if isinstance(u, np.ndarray):
                np.testing.assert_array_equal(u, v)
                assert u.dtype == v.dtype
            else:
                assert u == v
    assert any(step[4] is not None for step in b[1:])  # some episodes ended


def test_single_env_batches_non_empty_infos_like_sync() -> None:
    class InfoEnv(gymnasium.Env):  # type: ignore[misc]
        observation_space = gymnasium.spaces.Box(0, 1, (1,), np.float32)
        action_space = gymnasium.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):  # type: ignore[no-untyped-def]
            self.t = 0
            return np.zeros(1, np.float32), {"start": 1}

        def step(self, action):  # type: ignore[no-untyped-def]
            self.t += 1
            return np.full(1, self.t, np.float32), 1.0, self.t == 2, False, {"t": self.t}

    single = SingleEnv(InfoEnv())
    sync = SyncVectorEnv([InfoEnv], autoreset_mode=AutoresetMode.SAME_STEP)
    for envs in (single, sync):
        obs, info = envs.reset()
        assert info["start"][0] == 1 and info["_start"][0]
        _, _, _, _, info = envs.step(np.array([0]))
        assert info["t"][0] == 1
        obs, _, term, _, info = envs.step(np.array([0]))
        assert term[0] and info["final_obs"][0][0] == 2 and info["final_info"]["t"][0] == 2
        assert obs[0, 0] == 0 and info["start"][0] == 1


# ----------------------------------------------------------------------------- threads
def test_limit_threads_sets_and_restores_torch_and_blas() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = torch.get_num_threads()
    blas_before = [
        p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"
    ]
    target = 2 if before == 1 else 1
    with limit_threads(target):
        assert torch.get_num_threads() == target
        inside = [
            p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"
        ]
        assert all(n <= target for n in inside)
    assert torch.get_num_threads() == before
    after = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    assert after == blas_before
    with limit_threads(None):
        assert torch.get_num_threads() == before


def test_fit_runs_with_the_threads_option_and_restores_them() -> None:
    from renshu.agents.dqn import DQN
    from renshu.callbacks import Callback
    from renshu.envs.toy import IdentityEnv

    before = torch.get_num_threads()
    seen: list[int] = []

    class Spy(Callback):
        def on_tick(self, step: int) -> None:
            seen.append(torch.get_num_threads())

    target = 2 if before == 1 else 1
    agent = DQN(IdentityEnv(), warmup_steps=10, buffer_size=100, net=(8,), seed=0, threads=target)
    agent.fit(steps=20, progress=False, callbacks=[Spy()])
    assert set(seen) == {target} and torch.get_num_threads() == before


# ---- the NumPy actor-critic (PPO and A2C acting) ---------------------------------------------


@pytest.mark.parametrize(
    "space",
    [gymnasium.spaces.Discrete(4, start=-1), gymnasium.spaces.Box(-2.0, 2.0, (3,), np.float32)],
    ids=["discrete-with-start", "box"],
)
def test_numpy_actor_critic_acts_as_torch_does(space: gymnasium.Space) -> None:
    from renshu.actor_critic import build_actor_critic
    from renshu.fastpath import numpy_actor_critic

    torch.manual_seed(0)
    policy = build_actor_critic((5,), F32, space, normalize=(5,))
    norm = policy.preprocess.norm
    norm.update(np.random.default_rng(0).normal(3.0, 2.0, size=(64, 5)).astype(np.float32))
    with torch.no_grad():  # heads large enough that the actions differ between observations
        policy.policy_head.weight.mul_(100)
    fast = numpy_actor_critic(policy)
    assert fast is not None
    obs = np.random.default_rng(1).normal(3.0, 2.0, size=(32, 5)).astype(np.float32)
    actions, log_probs = fast.act(obs, np.random.default_rng(2))
    values = fast.values(obs)
    first = policy.dist.to_env(torch.as_tensor(actions))[0]  # a Box's clipped to its bounds
    assert space.contains(first if actions.ndim > 1 else int(first))
    with torch.no_grad():
        torch_log_probs, _, torch_values = policy.evaluate(
            torch.as_tensor(obs), torch.as_tensor(actions)
        )
        greedy, _, _ = policy.act(torch.as_tensor(obs), deterministic=True)
    np.testing.assert_allclose(log_probs, torch_log_probs.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(values, torch_values.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fast.greedy(obs), greedy.numpy(), rtol=1e-5, atol=1e-6)
    # the same generator state draws the same actions (a resumed run samples alike)
    again, _ = fast.act(obs, np.random.default_rng(2))
    np.testing.assert_array_equal(actions, again)


@pytest.mark.parametrize(
    "space",
    [gymnasium.spaces.Discrete(4, start=-1), gymnasium.spaces.Box(-2.0, 2.0, (3,), np.float32)],
    ids=["discrete-with-start", "box"],
)
def test_numpy_recurrent_actor_steps_as_torch_does(space: gymnasium.Space) -> None:
    """A recurrent MLP policy acting in NumPy: the state used (reset where episodes start), the
    next state, log-probabilities and values equal the torch step's; new weights are picked up
    when the key changes."""
    from renshu.actor_critic import build_recurrent_actor_critic
    from renshu.fastpath import numpy_recurrent_actor

    torch.manual_seed(0)
    policy = build_recurrent_actor_critic((5,), F32, space, lstm_size=6, normalize=(5,))
    norm = policy.preprocess.norm
    norm.update(np.random.default_rng(0).normal(3.0, 2.0, size=(64, 5)).astype(np.float32))
    fast = numpy_recurrent_actor(policy)
    assert fast is not None
    rng = np.random.default_rng(1)
    obs = rng.normal(3.0, 2.0, size=(4, 5)).astype(np.float32)
    h, c = rng.normal(size=(2, 4, 6)).astype(np.float32)
    starts = np.array([True, False, False, True])
    for key in ("before", "after"):
        actions, log_probs, values, h_used, c_used, h_next, c_next = fast.act(
            obs, h, c, starts, np.random.default_rng(2), key
        )
        state = (torch.from_numpy(h[None]), torch.from_numpy(c[None]))
        with torch.no_grad():
            dist, torch_values, (th, tc) = policy.step(
                torch.as_tensor(obs), state, torch.as_tensor(starts)
            )
            torch_log_probs = dist.log_prob(torch.as_tensor(actions))
        np.testing.assert_array_equal(h_used[starts], 0.0)
        np.testing.assert_array_equal(h_used[~starts], h[~starts])
        np.testing.assert_array_equal(c_used[~starts], c[~starts])
        np.testing.assert_allclose(h_next, th[0].numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(c_next, tc[0].numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(log_probs, torch_log_probs.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(values, torch_values.numpy(), rtol=1e-5, atol=1e-6)
        with torch.no_grad():  # an update: the next key sees it
            for p in policy.parameters():
                p.add_(0.1)
    pixels = build_recurrent_actor_critic((4, 84, 84), np.dtype(np.uint8), space, lstm_size=6)
    assert numpy_recurrent_actor(pixels) is None  # a CNN acts with torch


def test_numpy_actor_critic_samples_with_the_policys_probabilities() -> None:
    from renshu.actor_critic import build_actor_critic
    from renshu.fastpath import numpy_actor_critic

    torch.manual_seed(0)
    policy = build_actor_critic((2,), F32, gymnasium.spaces.Discrete(3))
    with torch.no_grad():
        policy.policy_head.bias.copy_(torch.tensor([0.0, 1.0, 2.0]))
        policy.policy_head.weight.zero_()
    fast = numpy_actor_critic(policy)
    assert fast is not None
    actions, _ = fast.act(np.zeros((20_000, 2), np.float32), np.random.default_rng(0))
    expected = np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum()
    np.testing.assert_allclose(np.bincount(actions, minlength=3) / 20_000, expected, atol=0.01)


@pytest.mark.parametrize(
    ("obs_shape", "dtype", "space"),
    [
        ((4,), F32, gymnasium.spaces.MultiDiscrete([2, 3])),
        ((4,), F32, gymnasium.spaces.MultiBinary(3)),
        ((4, 84, 84), np.dtype(np.uint8), gymnasium.spaces.Discrete(3)),
    ],
    ids=["multidiscrete", "multibinary", "cnn"],
)
@pytest.mark.parametrize("shared", [False, True])
def test_numpy_actor_critic_leaves_other_networks_to_torch(
    obs_shape: tuple[int, ...], dtype: np.dtype, space: gymnasium.Space, shared: bool
) -> None:
    from renshu.actor_critic import build_actor_critic
    from renshu.fastpath import numpy_actor_critic

    assert numpy_actor_critic(build_actor_critic(obs_shape, dtype, space, shared=shared)) is None
    if shared:  # a shared torso is served by torch for any space
        policy = build_actor_critic((4,), F32, gymnasium.spaces.Discrete(2), shared=True)
        assert numpy_actor_critic(policy) is None


@pytest.mark.parametrize(
    "space",
    [gymnasium.spaces.Discrete(3, start=1), gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)],
    ids=["discrete", "box"],
)
@pytest.mark.parametrize("clip_vf", [None, 0.05])
@pytest.mark.parametrize("clip", [0.2, None], ids=["ppo", "a2c"])
def test_numpy_actor_critic_loss_gradient_equals_autograd(
    space: gymnasium.Space, clip_vf: float | None, clip: float | None
) -> None:
    """The NumPy loss writes the gradient autograd computes for agents/ppo.py's loss (clipped
    and unclipped ratios, ties, entropy bonus, value clipping) and, with ``clip=None``, for
    agents/a2c.py's plain policy gradient, into FlatParams' gradient."""
    import torch.nn.functional as F

    from renshu.actor_critic import build_actor_critic
    from renshu.fastpath import numpy_actor_critic

    torch.manual_seed(0)
    policy = build_actor_critic((4,), F32, space, normalize=(4,))
    policy.preprocess.norm.update(np.random.default_rng(0).normal(1, 3, (64, 4)).astype(np.float32))
    flat = FlatParams(policy)
    fast = numpy_actor_critic(policy)
    assert fast is not None
    rng = np.random.default_rng(1)
    b, ent_coef, vf_coef = 48, 0.01, 0.5
    obs = rng.normal(1, 3, (b, 4)).astype(np.float32)
    actions, log_probs = fast.act(obs, rng)
    values = fast.values(obs)
    old_log_probs = (log_probs + rng.normal(0, 0.3, b)).astype(np.float32)  # some ratios clip
    old_log_probs[:4] = log_probs[:4]  # ratio exactly 1: a tie of both branches
    advantages = rng.normal(0, 1, b).astype(np.float32)
    returns = (values + rng.normal(0, 1, b)).astype(np.float32)
    old_values = (values + rng.normal(0, 0.1, b)).astype(np.float32)

    flat.zero_grad()
    log_prob, entropy, value = policy.evaluate(torch.as_tensor(obs), torch.as_tensor(actions))
    adv = torch.as_tensor(advantages)
    if clip is None:  # A2C
        policy_loss = -(adv * log_prob).mean()
    else:
        ratio = (log_prob - torch.as_tensor(old_log_probs)).exp()
        policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip)).mean()
    old_v = torch.as_tensor(old_values)
    if clip_vf is not None:
        value = old_v + (value - old_v).clamp(-clip_vf, clip_vf)
    value_loss = F.mse_loss(value, torch.as_tensor(returns))
    (policy_loss - ent_coef * entropy.mean() + vf_coef * value_loss).backward()
    expected = flat.grad.clone()

    flat.zero_grad()
    figures = fast.loss(
        obs,
        actions,
        old_log_probs,
        advantages,
        returns,
        old_values,
        clip=clip,
        clip_vf=clip_vf,
        ent_coef=ent_coef,
        vf_coef=vf_coef,
    )
    np.testing.assert_allclose(flat.grad.numpy(), expected.numpy(), rtol=1e-4, atol=1e-6)
    assert figures[0] == pytest.approx(float(policy_loss.detach()), rel=1e-5, abs=1e-6)
    assert figures[1] == pytest.approx(float(value_loss.detach()), rel=1e-5)
    assert figures[2] == pytest.approx(float(entropy.mean().detach()), rel=1e-5)


# ----------------------------------------------------------------------------- tanh_
@pytest.mark.parametrize("shape", [(4, 8), (256, 64), (3, SIGMOID_TANH_MIN_SIZE + 1), (2, 256, 64)])
def test_tanh_in_place_matches_numpy_within_float32_rounding(shape: tuple[int, ...]) -> None:
    x = (np.random.default_rng(0).standard_normal(shape) * 4).astype(np.float32)
    x.flat[:4] = [0.0, -30.0, 30.0, 1e-8]
    y = x.copy()
    tanh_(y)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, np.tanh(x), rtol=0, atol=3e-7)
    assert np.abs(y).max() <= 1.0


def test_tanh_in_place_handles_strided_and_float64_arrays_with_numpy() -> None:
    x = np.random.default_rng(1).standard_normal((256, 128)).astype(np.float32)
    view = x[:, ::2]  # not contiguous: np.tanh in place, the rest of x untouched
    before = x[:, 1::2].copy()
    expected = np.tanh(view)
    tanh_(view)
    np.testing.assert_array_equal(view, expected)
    np.testing.assert_array_equal(x[:, 1::2], before)
    d = np.linspace(-3, 3, 5_000)
    e = np.tanh(d)
    tanh_(d)
    np.testing.assert_array_equal(d, e)

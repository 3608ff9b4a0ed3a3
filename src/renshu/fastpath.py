"""Fast paths for small networks on a laptop CPU, each checked against the general path in tests.

A gradient step of a 64x64 MLP on a batch of 32 is about 160 µs of arithmetic, but eager PyTorch
spends several times that on per-operation overhead (module calls, the autograd graph, the
optimizer's bookkeeping), and ``SyncVectorEnv`` adds more to every env step than the env costs.
The pieces here remove that overhead without changing what is computed:

* :class:`FlatParams`: a module's parameters become views into one contiguous tensor and their
  gradients views into another, so gradient clipping and the target-network sync are one or two
  operations, and the optimizer sees one tensor.
* :class:`NumpyMLP`: renshu's MLP Q-network (:class:`renshu.nets.QNetwork`, ReLU, plain or
  dueling head) read in NumPy on the same memory as its torch weights: Q-values for acting
  without any torch dispatch.
* :class:`NumpyDQNLoss`: the DQN loss of that network and its gradient, written out by hand
  (forward, TD target, Huber or MSE, backward) into the flat gradient. ``tests/test_fastpath.py``
  checks it against autograd.
* :class:`SingleEnv`: one environment as a vector env of one, with ``SyncVectorEnv``'s semantics
  (same-step autoreset, the final observation in ``info["final_obs"]``) but no per-step batching
  of empty infos and no deep copies.
* :func:`limit_threads`: torch's and NumPy's BLAS thread pools held at a given size while an
  agent trains. Several threads on a network this small only wait for each other, and on a busy
  2-core machine the waiting made DQN 8x (MLP, batch 64) to 40x (CNN) slower.

Whatever they do not cover (a custom module or loss, a GPU) takes the general path.

Example:
    >>> import numpy as np, torch
    >>> from renshu.nets import build_q_network
    >>> net = build_q_network((4,), np.dtype(np.float32), 2, net=(8,))
    >>> flat = FlatParams(net)
    >>> obs = np.ones((3, 4), np.float32)
    >>> expected = net(torch.from_numpy(obs)).detach().numpy()
    >>> np.allclose(NumpyMLP(net)(obs), expected, atol=1e-6)
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array
from torch import nn

from renshu.actor_critic import ActorCritic, RecurrentActorCritic
from renshu.distributions import CategoricalActions, GaussianActions
from renshu.nets import NORM_CLIP, DuelingHead, ObsPreprocess, QNetwork
from renshu.replay import ArrayBatch

__all__ = [
    "FlatParams",
    "NumpyDQNLoss",
    "NumpyMLP",
    "SingleEnv",
    "limit_threads",
    "numpy_mlp_supported",
]

Layers = list[tuple[np.ndarray, np.ndarray]]
"""(weight, bias) arrays of a list of linear layers."""


class FlatParams:
    """The parameters of ``module`` as views into one flat tensor, gradients into another.

    After construction ``p.data`` of every parameter is a view of :attr:`data` and ``p.grad`` a
    view of :attr:`grad` (zeros), so backward accumulates into :attr:`grad` in place and
    :attr:`leaf` -- one parameter over the same memory -- is all an optimizer needs. Values are
    unchanged; ``module.state_dict()``/``load_state_dict()`` work as before (they copy in place).

    Args:
        module: its parameters must share one dtype and device (renshu's networks do).
        grads: also attach flat gradients (not needed for a target network).
    """

    def __init__(self, module: nn.Module, *, grads: bool = True) -> None:
        params = list(module.parameters())
        if not params:
            raise ValueError("FlatParams needs a module with parameters")
        dtype, device = params[0].dtype, params[0].device
        if any(p.dtype != dtype or p.device != device for p in params):
            raise ValueError("FlatParams needs parameters of one dtype on one device")
        self.params = params
        total = sum(p.numel() for p in params)
        self.data = torch.empty(total, dtype=dtype, device=device)
        self.grad = torch.zeros_like(self.data) if grads else None
        offset = 0
        with torch.no_grad():
            for p in params:
                n = p.numel()
                view = self.data[offset : offset + n].view_as(p)
                view.copy_(p)
                p.data = view
                if self.grad is not None:
                    p.grad = self.grad[offset : offset + n].view_as(p)
                offset += n
        self._grad_views = [p.grad for p in params]
        self.leaf = nn.Parameter(self.data, requires_grad=grads)
        """One parameter over the whole flat memory: hand it to the optimizer."""
        if self.grad is not None:
            self.leaf.grad = self.grad
        self._numpy = self.data.numpy() if device.type == "cpu" else None
        self._numpy_grad = (
            self.grad.numpy() if self.grad is not None and device.type == "cpu" else None
        )

    def zero_grad(self) -> None:
        """Zero the flat gradient (and re-attach any gradient autograd replaced)."""
        assert self.grad is not None
        self.grad.zero_()
        self.attach_grads()

    def attach_grads(self) -> None:
        """Make every ``p.grad`` (and ``leaf.grad``) the flat view again, keeping its value, if
        something replaced it (``optimizer.zero_grad(set_to_none=True)``, say)."""
        if self.leaf.grad is not self.grad:
            self.leaf.grad = self.grad
        for p, view in zip(self.params, self._grad_views, strict=True):
            if p.grad is not view:
                assert view is not None
                if p.grad is None:
                    view.zero_()
                else:
                    view.copy_(p.grad)
                p.grad = view

    def clip_grad_norm_(self, max_norm: float) -> None:
        """Scale the gradient to a total L2 norm of at most ``max_norm``, as
        ``torch.nn.utils.clip_grad_norm_`` does (factor ``max_norm / (norm + 1e-6)``, capped at
        1), without a host sync on a GPU."""
        assert self.grad is not None
        if self._numpy_grad is not None:
            g = self._numpy_grad
            coef = max_norm / (math.sqrt(float(np.dot(g, g))) + 1e-6)
            if coef < 1.0:
                g *= np.float32(coef) if g.dtype == np.float32 else coef
            return
        norm = torch.linalg.vector_norm(self.grad)
        self.grad.mul_((max_norm / (norm + 1e-6)).clamp_(max=1.0))

    @torch.no_grad()
    def follow(self, source: FlatParams, tau: float) -> None:
        """Target update: ``self += tau * (source - self)`` (torch's ``lerp_``), an exact copy of
        ``source``'s parameters when ``tau`` is 1."""
        if tau == 1.0:
            self.data.copy_(source.data)
        else:
            self.data.lerp_(source.data, tau)


def numpy_mlp_supported(net: nn.Module) -> bool:
    """Whether :class:`NumpyMLP` can read ``net``: a renshu MLP :class:`QNetwork` with ReLU
    layers and a plain or dueling head, float32 on the CPU."""
    if not isinstance(net, QNetwork) or net.kind != "mlp" or net.preprocess.layout is not None:
        return False
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in net.parameters()):
        return False
    torso = list(net.torso)
    if not torso or type(torso[0]) is not nn.Flatten or torso[0].start_dim != 1:
        return False
    body = torso[1:]
    if len(body) % 2:
        return False
    for linear, act in zip(body[::2], body[1::2], strict=True):
        if type(linear) is not nn.Linear or linear.bias is None or type(act) is not nn.ReLU:
            return False
    if type(net.head) is DuelingHead:
        return all(type(m) is nn.Linear for m in (net.head.value, net.head.advantage))
    return type(net.head) is nn.Linear and net.head.bias is not None


def numpy_input(
    obs: np.ndarray, scale: bool, norm: tuple[np.ndarray, np.ndarray] | None
) -> np.ndarray:
    """What :class:`renshu.nets.ObsPreprocess` and ``Flatten`` do, in NumPy: ``(B, *obs_shape)``
    observations -> ``(B, features)`` float32, uint8 scaled to [0, 1] (``scale``), others
    normalized by the running statistics ``norm = (shift, scale)`` and clipped to +-NORM_CLIP."""
    if scale:
        return obs.reshape(len(obs), -1).astype(np.float32) / np.float32(255.0)
    if norm is None:
        return obs.astype(np.float32, copy=False).reshape(len(obs), -1)
    shift, factor = norm
    x = obs.astype(np.float32, copy=False) - shift  # a new array: obs is left alone
    x *= factor
    np.maximum(x, -NORM_CLIP, out=x)
    np.minimum(x, NORM_CLIP, out=x)
    return x.reshape(len(obs), -1)


class NumpyMLP:
    """Q-values of renshu's MLP Q-network in NumPy, reading the torch parameters' own memory.

    ``net`` must pass :func:`numpy_mlp_supported`. The arrays are views, so they follow every
    in-place update (optimizer steps, ``load_state_dict``); :meth:`__call__` re-reads them if a
    parameter was given new memory (``p.data = ...``).
    """

    def __init__(self, net: nn.Module) -> None:
        if not numpy_mlp_supported(net):
            raise ValueError("NumpyMLP needs a renshu MLP QNetwork with ReLU on the CPU")
        assert isinstance(net, QNetwork)
        preprocess = net.preprocess
        self.scale = bool(preprocess.scale)
        # Running normalization: views of the float32 shift and scale RunningNorm keeps current
        # (it rewrites them in place on every update and load).
        self.norm: tuple[np.ndarray, np.ndarray] | None = None
        if preprocess.norm is not None:
            self.norm = preprocess.norm.shift.numpy(), preprocess.norm.scale.numpy()
        self.dueling = bool(net.dueling)
        self.hidden_modules = [m for m in net.torso if isinstance(m, nn.Linear)]
        head = net.head
        self.head_modules = (
            [head.value, head.advantage] if isinstance(head, DuelingHead) else [head]
        )
        self._refresh()

    def _refresh(self) -> None:
        def arrays(m: nn.Module) -> tuple[np.ndarray, np.ndarray]:
            assert isinstance(m, nn.Linear)
            return m.weight.detach().numpy(), m.bias.detach().numpy()

        self.hidden: Layers = [arrays(m) for m in self.hidden_modules]
        self.head: Layers = [arrays(m) for m in self.head_modules]
        self._last = self._last_weight()
        self._ptr = self._last.data_ptr()
        self._params: list[torch.Tensor] = []
        for m in self.hidden_modules + self.head_modules:
            assert isinstance(m, nn.Linear)
            self._params += [m.weight, m.bias]
        self._grad_tensors: list[object] = []  # kept alive, so their ids stay theirs
        self._grad_key: list[int] = []
        self._grad_arrays: tuple[Layers, Layers] = ([], [])

    def grads(self) -> tuple[Layers, Layers]:
        """The gradient arrays (views of ``p.grad``), hidden layers and head, like the weights."""
        grads = [p.grad for p in self._params]
        key = [id(g) for g in grads]
        if key != self._grad_key:  # new gradient tensors: take new views
            self._grad_key, self._grad_tensors = key, list(grads)
            arrays: Layers = []
            for weight, bias in zip(grads[::2], grads[1::2], strict=True):
                assert weight is not None and bias is not None
                arrays.append((weight.numpy(), bias.numpy()))
            self._grad_arrays = arrays[: len(self.hidden)], arrays[len(self.hidden) :]
        return self._grad_arrays

    def _last_weight(self) -> torch.Tensor:
        last = self.head_modules[-1]
        assert isinstance(last, nn.Linear)
        return last.weight

    def input(self, obs: np.ndarray) -> np.ndarray:
        """``(B, *obs_shape)`` observations -> ``(B, features)`` float32 (:func:`numpy_input`)."""
        return numpy_input(obs, self.scale, self.norm)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Q-values for inputs ``x`` (from :meth:`input`) and the input of every layer."""
        if self._last.data_ptr() != self._ptr:
            self._refresh()
        inputs = [x]
        for weight, bias in self.hidden:
            x = x @ weight.T
            x += bias
            np.maximum(x, 0, out=x)
            inputs.append(x)
        if not self.dueling:
            weight, bias = self.head[0]
            q = x @ weight.T
            q += bias
            return q, inputs
        (wv, bv), (wa, ba) = self.head
        value = x @ wv.T
        value += bv
        advantage = x @ wa.T
        advantage += ba
        return value + advantage - advantage.mean(axis=1, keepdims=True), inputs

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """``(B, A)`` float32 Q-values of ``(B, *obs_shape)`` observations."""
        return self.forward(self.input(obs if isinstance(obs, np.ndarray) else np.asarray(obs)))[0]


class NumpyDQNLoss:
    """The DQN loss of a :class:`NumpyMLP` network and its gradient, by hand, in NumPy.

    Computes what ``agents/dqn.py`` computes with autograd -- Q of the actions taken, the TD
    target from the target network (Double DQN: the online network picks the next action),
    the weighted Huber (delta 1) or squared error, its mean -- and writes the gradient of that
    mean into the online network's gradient arrays (overwriting them).

    Args:
        online: the trained network, with gradients attached (:class:`FlatParams`).
        target: the target network.
        loss: ``"huber"`` or ``"mse"``.
        double: Double DQN targets.
        weighted: use the batch's importance weights (False: they are all ones, as with
            uniform replay, and are skipped).
    """

    def __init__(
        self,
        online: NumpyMLP,
        target: NumpyMLP,
        *,
        loss: str,
        double: bool,
        weighted: bool = True,
    ) -> None:
        if loss not in ("huber", "mse"):
            raise ValueError(f"loss must be 'huber' or 'mse', got {loss!r}")
        self.online, self.target = online, target
        self.huber, self.double, self.weighted = loss == "huber", double, weighted
        self._rows = np.arange(0)

    def __call__(self, batch: ArrayBatch) -> tuple[float, float, np.ndarray]:
        """Gradient of the mean loss into the online network's gradients; returns the loss,
        the mean Q of the actions taken and the TD errors ``q - target``."""
        online, B = self.online, len(batch.actions)
        if self._rows.size != B:
            self._rows = np.arange(B)
        rows, actions = self._rows, batch.actions
        # The target network normalizes next_obs with its own statistics (a copy of the online
        # network's as of the last target update); without normalization the inputs are shared.
        own_target_input = self.target.norm is not None
        if self.double or not own_target_input:
            both = online.input(np.concatenate([batch.obs, batch.next_obs]))
            x, next_x = both[:B], both[B:]
        else:
            x = online.input(batch.obs)
        if self.double:  # one pass of the online net over obs and next_obs together
            q_both, inputs = online.forward(both)
            q, next_online = q_both[:B], q_both[B:]
            inputs = [a[:B] for a in inputs]
        else:
            q, inputs = online.forward(x)
        if own_target_input:
            next_x = self.target.input(batch.next_obs)
        next_target = self.target.forward(next_x)[0]
        if self.double:
            next_q = next_target[rows, next_online.argmax(axis=1)]
        else:
            next_q = next_target.max(axis=1)
        td_target = batch.rewards + batch.discounts * (np.float32(1.0) - batch.dones) * next_q
        q_taken = q[rows, actions]
        error = q_taken - td_target
        weights = batch.weights
        if self.huber:  # smooth L1, delta 1: with c = clip(error, -1, 1), loss = c (error - c/2)
            grad = np.minimum(np.maximum(error, np.float32(-1.0)), np.float32(1.0))
            losses = error - np.float32(0.5) * grad
            losses *= grad
        else:
            losses = error * error
            grad = error * np.float32(2.0)
        if self.weighted:
            loss = float(np.dot(losses, weights)) / B
            grad *= weights * np.float32(1.0 / B)
        else:
            loss = float(np.add.reduce(losses)) / B
            grad *= np.float32(1.0 / B)
        dq = np.zeros(q.shape, np.float32)
        dq[rows, actions] = grad
        self._backward(dq, inputs)
        return loss, float(np.add.reduce(q_taken)) / B, error

    def _backward(self, dq: np.ndarray, inputs: list[np.ndarray]) -> None:
        online = self.online
        hidden_grads, head_grads = online.grads()
        features = inputs[-1]
        if online.dueling:
            (wv, _), (wa, _) = online.head
            (gwv, gbv), (gwa, gba) = head_grads
            dv = dq.sum(axis=1, keepdims=True)
            da = dq - dq.mean(axis=1, keepdims=True)
            np.matmul(dv.T, features, out=gwv)
            np.add.reduce(dv, axis=0, out=gbv)
            np.matmul(da.T, features, out=gwa)
            np.add.reduce(da, axis=0, out=gba)
            dh = dv @ wv
            dh += da @ wa
        else:
            weight, _ = online.head[0]
            gw, gb = head_grads[0]
            np.matmul(dq.T, features, out=gw)
            np.add.reduce(dq, axis=0, out=gb)
            dh = dq @ weight
        for i in range(len(online.hidden) - 1, -1, -1):
            dh *= inputs[i + 1] > 0  # ReLU: the gradient passes where the output is positive
            gw, gb = hidden_grads[i]
            np.matmul(dh.T, inputs[i], out=gw)
            np.add.reduce(dh, axis=0, out=gb)
            if i:
                dh = dh @ online.hidden[i][0]


class NumpyDQN:
    """DQN's NumPy fast path, chosen once when the agent is built (:func:`numpy_dqn`).

    It serves renshu's own MLP Q-networks (:class:`~renshu.nets.QNetwork` with ReLU layers and
    a plain or dueling head, float32, on the CPU): ``q_values`` acts, and ``loss`` (present for
    the "huber" and "mse" losses) computes the loss and its gradient. Anything else -- a CNN, a
    custom module or loss, a GPU -- takes torch and autograd.
    """

    def __init__(self, q: NumpyMLP, loss: NumpyDQNLoss | None) -> None:
        self.q_values, self.loss = q, loss


def numpy_dqn(
    q_network: nn.Module,
    target_network: nn.Module,
    *,
    flat: bool,
    loss: Any,
    double: bool,
    weighted: bool,
) -> NumpyDQN | None:
    """The fast path for these networks and options, or None where torch serves them."""
    if not flat or not numpy_mlp_supported(q_network):
        return None
    q = NumpyMLP(q_network)
    if loss not in ("huber", "mse"):
        return NumpyDQN(q, None)
    return NumpyDQN(
        q, NumpyDQNLoss(q, NumpyMLP(target_network), loss=loss, double=double, weighted=weighted)
    )


class _Dense:
    """One Linear layer (and its Tanh/ReLU, if any) as NumPy views of the torch parameters and
    their gradients."""

    def __init__(self, linear: nn.Linear, activation: str | None) -> None:
        self.linear, self.activation = linear, activation
        self.refresh()

    def refresh(self) -> None:
        """Views of the current parameter memory (and gradient memory, when attached)."""
        linear = self.linear
        self.weight = linear.weight.detach().numpy()
        self.bias = linear.bias.detach().numpy()
        self.grad: tuple[np.ndarray, np.ndarray] | None = None
        if linear.weight.grad is not None and linear.bias.grad is not None:
            self.grad = linear.weight.grad.numpy(), linear.bias.grad.numpy()

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = np.dot(x, self.weight.T)  # (np.dot: less overhead than @ for small batches)
        y += self.bias
        if self.activation == "tanh":
            tanh_(y)
        elif self.activation == "relu":
            np.maximum(y, 0, out=y)
        return y

    def backward(
        self, x: np.ndarray, y: np.ndarray, dy: np.ndarray, *, input_grad: bool = True
    ) -> np.ndarray | None:
        """Write this layer's gradient for output gradient ``dy`` (``x`` in, ``y`` out) into the
        gradient arrays (overwriting them) and return the input's gradient (None when
        ``input_grad`` is False: the first layer's input is the observation)."""
        if self.activation == "tanh":
            dy = dy * (1.0 - y * y)
        elif self.activation == "relu":
            dy = dy * (y > 0)
        assert self.grad is not None
        weight_grad, bias_grad = self.grad
        np.matmul(dy.T, x, out=weight_grad)
        np.dot(_ones(len(dy)), dy, out=bias_grad)  # the batch sum, as a product: ~5x faster
        if not input_grad:
            return None
        # one output (a value head): an outer product, which BLAS does ~3x slower as a product
        return dy * self.weight if dy.shape[1] == 1 else dy @ self.weight


_ONES: dict[int, np.ndarray] = {}


def _ones(n: int) -> np.ndarray:
    """A float32 vector of ``n`` ones (cached)."""
    ones = _ONES.get(n)
    if ones is None:
        ones = _ONES[n] = np.ones(n, np.float32)
    return ones


SIGMOID_TANH_MIN_SIZE = 2_048
"""From this many elements on, :func:`tanh_` goes through torch's sigmoid."""


def tanh_(y: np.ndarray) -> None:
    """``y = tanh(y)`` in place, for float32 ``y``. Large arrays use ``2 * sigmoid(2y) - 1``:
    torch's vectorized sigmoid with three NumPy passes takes less than half the time of
    ``np.tanh`` here (which is scalar libm code; within 2e-7 of it)."""
    if y.size < SIGMOID_TANH_MIN_SIZE or y.dtype != np.float32 or not y.flags.c_contiguous:
        np.tanh(y, out=y)
        return
    y *= 2.0
    flat = torch.from_numpy(y)
    torch.sigmoid(flat, out=flat)
    y *= 2.0
    y -= 1.0


_ACTIVATION_NAMES = {nn.Tanh: "tanh", nn.ReLU: "relu"}


def _numpy_preprocess(
    preprocess: nn.Module,
) -> tuple[bool, tuple[np.ndarray, np.ndarray] | None]:
    """What :func:`numpy_input` takes of an actor-critic's input layer: whether it scales uint8,
    and NumPy views of its running statistics ``(shift, scale)`` (None without them)."""
    assert isinstance(preprocess, ObsPreprocess)
    if preprocess.norm is None:
        return bool(preprocess.scale), None
    return bool(preprocess.scale), (preprocess.norm.shift.numpy(), preprocess.norm.scale.numpy())


def _dense_layers(seq: nn.Module | None) -> list[_Dense] | None:
    """A Sequential of Linear + Tanh/ReLU pairs as :class:`_Dense` layers, or None when it holds
    anything else."""
    if not isinstance(seq, nn.Sequential):
        return None
    modules = list(seq)
    if len(modules) % 2:
        return None
    layers = []
    for linear, act in zip(modules[::2], modules[1::2], strict=True):
        name = _ACTIVATION_NAMES.get(type(act))
        if type(linear) is not nn.Linear or linear.bias is None or name is None:
            return None
        layers.append(_Dense(linear, name))
    return layers


class NumpyActorCritic:
    """renshu's MLP actor-critic in NumPy, on the torch parameters' own memory: acting, and the
    PPO loss with its gradient.

    It serves :func:`renshu.actor_critic.build_actor_critic`'s MLPs with separate policy and
    value torsos (Linear + Tanh/ReLU, float32 on the CPU) and a Discrete action space (a
    categorical, sampled by Gumbel-max) or a Box (a diagonal Gaussian); :func:`numpy_actor_critic`
    says whether a network qualifies. Actions are drawn from the NumPy generator given, so an
    agent's saved RNG state is all a resumed run needs. :meth:`loss` computes what
    agents/ppo.py computes with autograd and writes the gradient into the parameters' gradients
    (which :class:`FlatParams` keeps in one array).
    """

    def __init__(self, policy: ActorCritic) -> None:
        assert policy.value_net is not None
        self.scale, self.norm = _numpy_preprocess(policy.preprocess)
        self.policy = policy
        dist = policy.dist
        self.discrete = isinstance(dist, CategoricalActions)
        self.start = int(getattr(dist.space, "start", 0)) if self.discrete else 0
        self.policy_layers = [
            *(_dense_layers(policy.policy_net) or []),
            _Dense(policy.policy_head, None),
        ]
        self.value_layers = [
            *(_dense_layers(policy.value_net) or []),
            _Dense(policy.value_head, None),
        ]
        self.log_std_param = dist.log_std if isinstance(dist, GaussianActions) else None
        self._refresh()

    def _refresh(self) -> None:
        for layer in self.policy_layers + self.value_layers:
            layer.refresh()
        param = self.log_std_param
        self.log_std = None if param is None else param.detach().numpy()
        self.log_std_grad = None if param is None or param.grad is None else param.grad.numpy()
        self._key = self._memory_key()

    def _memory_key(self) -> tuple[int, ...]:
        linear = self.policy_layers[-1].linear
        grad = linear.weight.grad
        return (linear.weight.data_ptr(), 0 if grad is None else grad.data_ptr())

    @staticmethod
    def _run(x: np.ndarray, layers: list[_Dense]) -> list[np.ndarray]:
        """The input and every layer's output."""
        outputs = [x]
        for layer in layers:
            outputs.append(layer.forward(outputs[-1]))
        return outputs

    def _forward(self, obs: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        x = self._input(obs)
        return self._run(x, self.policy_layers), self._run(x, self.value_layers)

    def _input(self, obs: np.ndarray) -> np.ndarray:
        if self._memory_key() != self._key:
            self._refresh()
        return numpy_input(np.asarray(obs), self.scale, self.norm)

    @staticmethod
    def _output(x: np.ndarray, layers: list[_Dense]) -> np.ndarray:
        for layer in layers:
            x = layer.forward(x)
        return x

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Sampled actions and their log-probabilities (the policy torso only: a rollout's
        values are computed in one pass, by :meth:`values`, when it is full)."""
        params = self._output(self._input(obs), self.policy_layers)
        return _sample(params, rng, self.start if self.discrete else None, self.log_std)

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        """The most likely actions (the mean of a Gaussian)."""
        params = self._output(self._input(obs), self.policy_layers)
        return params.argmax(axis=1) + self.start if self.discrete else params

    def values(self, obs: np.ndarray) -> np.ndarray:
        """State values of ``obs``."""
        return self._output(self._input(obs), self.value_layers)[:, 0]

    def loss(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        old_log_probs: np.ndarray,
        advantages: np.ndarray,
        returns: np.ndarray,
        old_values: np.ndarray,
        *,
        clip: float | None,
        clip_vf: float | None,
        ent_coef: float,
        vf_coef: float,
    ) -> tuple[float, float, float, float, float]:
        """PPO's loss on a minibatch (advantages as given: normalize them first); writes its
        gradient into the parameters' gradients and returns (policy loss, value loss, entropy,
        approximate KL, clip fraction). With ``clip`` None the policy term is A2C's plain policy
        gradient ``-mean(A * log_prob)`` (``old_log_probs`` unused; KL and clip fraction 0)."""
        pi, v = self._forward(obs)
        params, value = pi[-1], v[-1][:, 0]
        b = len(obs)
        if self.discrete:
            log_p = _log_softmax(params)
            rows = _arange(b)
            index = actions.astype(np.intp, copy=False)
            if self.start:
                index = index - self.start
            log_prob = log_p[rows, index]
            p = np.exp(log_p)
            entropy = -_row_sum(p * log_p)
        else:
            assert self.log_std is not None
            std = np.exp(self.log_std)
            z = (actions - params) / std
            log_prob = -_row_sum(0.5 * z * z + (self.log_std + 0.5 * math.log(2 * math.pi)))
            entropy = np.full(b, (0.5 + 0.5 * math.log(2 * math.pi) + self.log_std).sum())
        if clip is None:  # A2C: d(-mean(A * log_prob))/d(log_prob) = -A / b
            policy_loss = -float(np.dot(advantages, log_prob)) / b
            g = advantages * (1.0 / b)  # = -d_log_prob
            approx_kl = clip_fraction = 0.0
        else:
            log_ratio = log_prob - old_log_probs
            ratio = np.exp(log_ratio)
            clipped_ratio = np.minimum(np.maximum(ratio, 1 - clip), 1 + clip)
            unclipped, clipped = advantages * ratio, advantages * clipped_ratio  # (negated)
            policy_loss = -_mean(np.minimum(unclipped, clipped))
            # d(policy loss)/d(log prob) = -A * ratio * d_ratio / b: d_ratio is 1 inside the
            # clip range (both terms are equal and pass the gradient); outside it, 1 where the
            # unclipped term is the larger loss, 0 where the clipped one is (its gradient is 0
            # there), and 1/2 where they tie (torch's even split; only when A is 0)
            inside = clipped_ratio == ratio
            larger = np.add(unclipped < clipped, unclipped <= clipped, dtype=np.float32)
            d_ratio = np.maximum(inside, 0.5 * larger)
            g = unclipped * d_ratio  # = -b * d_log_prob
            g *= 1.0 / b
            # Schulman's k3 estimator of KL(old || new): mean(ratio - 1 - log ratio)
            sums = np.add.reduce(ratio, dtype=np.float64) - np.add.reduce(
                log_ratio, dtype=np.float64
            )
            approx_kl = float(sums) / b - 1.0
            clip_fraction = 1.0 - np.count_nonzero(inside) / b
        if clip_vf is not None:
            delta = value - old_values
            error = old_values + np.clip(delta, -clip_vf, clip_vf) - returns
            d_value = (vf_coef * 2.0 / b) * error * (np.abs(delta) <= clip_vf)
        else:
            error = value - returns
            d_value = (vf_coef * 2.0 / b) * error
        value_loss = float(np.dot(error, error)) / b
        # gradients of the policy head's outputs
        if self.discrete:
            d_params = p * g[:, None]
            d_params[rows, index] -= g
            if ent_coef:  # entropy bonus: loss -= ent_coef * mean(H); dH/dlogits = -p(log p + H)
                d_params += (ent_coef / b) * p * (log_p + entropy[:, None])
        else:
            d_params = g[:, None] * (z / -std)
            assert self.log_std_grad is not None
            self.log_std_grad[...] = (g[:, None] * (1.0 - z * z)).sum(axis=0) - ent_coef
        self._backward(self.policy_layers, pi, d_params.astype(np.float32, copy=False))
        self._backward(self.value_layers, v, d_value[:, None].astype(np.float32, copy=False))
        return policy_loss, value_loss, _mean(entropy), approx_kl, clip_fraction

    @staticmethod
    def _backward(layers: list[_Dense], outputs: list[np.ndarray], grad: np.ndarray) -> None:
        for i in range(len(layers) - 1, 0, -1):
            below = layers[i].backward(outputs[i], outputs[i + 1], grad)
            assert below is not None
            grad = below
        layers[0].backward(outputs[0], outputs[1], grad, input_grad=False)


def _sample(
    params: np.ndarray, rng: np.random.Generator, start: int | None, log_std: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Actions drawn from the distribution ``params`` describe, and their log-probabilities: a
    categorical's logits (``start``: the Discrete space's first action) by Gumbel-max, or a
    diagonal Gaussian's means with ``log_std`` (``start`` None)."""
    if start is not None:  # Gumbel-max: argmax(log p + Gumbel noise) samples the softmax
        log_p = _log_softmax(params)
        gumbel = -np.log(-np.log(rng.random(params.shape, dtype=np.float32) + 1e-20))
        index = (log_p + gumbel).argmax(axis=1)
        log_prob = log_p[_arange(len(index)), index]
        return (index + start if start else index), log_prob
    assert log_std is not None
    noise = rng.standard_normal(params.shape, dtype=np.float32)
    actions = params + np.exp(log_std) * noise
    log_probs = -_row_sum(0.5 * noise**2 + (log_std + 0.5 * math.log(2 * math.pi)))
    return actions, log_probs.astype(np.float32, copy=False)


class NumpyRecurrentActor:
    """Acting of renshu's recurrent MLP actor-critic
    (:class:`renshu.actor_critic.RecurrentActorCritic`) in NumPy: the MLP torso, one LSTM step,
    the policy and value heads, and the sampling of :class:`NumpyActorCritic`, from the agent's
    NumPy generator. The LSTM's weights are used as transposed copies (a product with a
    transposed view costs ~4x more), made again whenever ``key`` changes: the caller passes what
    changes with the weights (its update count and the parameters' version counters)."""

    def __init__(self, policy: RecurrentActorCritic) -> None:
        self.scale, self.norm = _numpy_preprocess(policy.preprocess)
        self.policy = policy
        dist = policy.dist
        self.start = (
            int(getattr(dist.space, "start", 0)) if isinstance(dist, CategoricalActions) else None
        )
        self.torso = _dense_layers(policy.torso) or []
        self.policy_head = _Dense(policy.policy_head, None)
        self.value_head = _Dense(policy.value_head, None)
        self.log_std_param = dist.log_std if isinstance(dist, GaussianActions) else None
        self._key: Any = None

    def _refresh(self, key: Any) -> None:
        for layer in [*self.torso, self.policy_head, self.value_head]:
            layer.refresh()
        w_ih, w_hh, b_ih, b_hh = (w.detach().numpy() for w in self.policy.core.weights())
        self.w_ih_t, self.w_hh_t = np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T)
        self.bias = b_ih + b_hh
        param = self.log_std_param
        self.log_std = None if param is None else param.detach().numpy()
        self._key = key

    def act(
        self,
        obs: np.ndarray,
        h: np.ndarray,
        c: np.ndarray,
        starts: np.ndarray,
        rng: np.random.Generator,
        key: Any,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One step of ``B`` envs from the state ``(h, c)`` (each ``(B, H)``), zeroed where
        ``starts``: the actions, their log-probabilities, the values, the state used (``h``,
        ``c`` after the resets) and the next state."""
        if key != self._key:
            self._refresh(key)
        if starts.any():
            keep = (~starts).astype(np.float32)[:, None]
            h, c = h * keep, c * keep
        x = numpy_input(np.asarray(obs), self.scale, self.norm)
        for layer in self.torso:
            x = layer.forward(x)
        z = np.dot(x, self.w_ih_t)
        z += np.dot(h, self.w_hh_t)
        z += self.bias
        H = h.shape[1]
        gates = 0.5 * np.tanh(0.5 * z) + 0.5  # i, f, o by a sigmoid (g: its tanh below)
        c_next = gates[:, H : 2 * H] * c
        c_next += gates[:, :H] * np.tanh(z[:, 2 * H : 3 * H])
        h_next = gates[:, 3 * H :] * np.tanh(c_next)
        params = self.policy_head.forward(h_next)
        actions, log_probs = _sample(params, rng, self.start, self.log_std)
        values = self.value_head.forward(h_next)[:, 0]
        return actions, log_probs, values, h, c, h_next, c_next


def numpy_recurrent_actor(policy: RecurrentActorCritic) -> NumpyRecurrentActor | None:
    """The NumPy acting path for ``policy``, or None where torch serves it (what
    :func:`numpy_actor_critic` refuses, and a torso other than Linear + Tanh/ReLU layers)."""
    if not _numpy_servable(policy) or _dense_layers(policy.torso) is None:
        return None
    return NumpyRecurrentActor(policy)


def _mean(x: np.ndarray) -> float:
    """The mean of a 1-d array as a float (``np.mean``'s Python wrapper costs more than the sum
    at minibatch sizes)."""
    return float(np.add.reduce(x)) / len(x)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - _row_max(logits)[:, None]
    return shifted - np.log(_row_sum(np.exp(shifted)))[:, None]


def _arange(n: int) -> np.ndarray:
    """``np.arange(n)`` (cached; read-only)."""
    rows = _ARANGE.get(n)
    if rows is None:
        rows = _ARANGE[n] = np.arange(n)
        rows.flags.writeable = False
    return rows


_ARANGE: dict[int, np.ndarray] = {}


def _row_sum(x: np.ndarray) -> np.ndarray:
    """``x.sum(axis=1)`` of a 2-d float32 array, as a product with ones: a NumPy reduction
    along a short last axis costs ~5x more."""
    return x @ _ones(x.shape[1])


def _row_max(x: np.ndarray) -> np.ndarray:
    """``x.max(axis=1)``, column by column for a few columns (~6x faster than the reduction)."""
    if x.shape[1] > 16:
        return np.maximum.reduce(x, axis=1)
    out = x[:, 0].copy()
    for j in range(1, x.shape[1]):
        np.maximum(out, x[:, j], out=out)
    return out


def numpy_actor_critic(policy: ActorCritic) -> NumpyActorCritic | None:
    """The NumPy path for ``policy``, or None where torch serves it (a CNN, Dict inputs, a
    shared torso, MultiDiscrete/MultiBinary actions, a GPU)."""
    if not _numpy_servable(policy):
        return None
    if _dense_layers(policy.policy_net) is None or _dense_layers(policy.value_net) is None:
        return None
    return NumpyActorCritic(policy)


def _numpy_servable(policy: ActorCritic | RecurrentActorCritic) -> bool:
    """Whether an actor-critic's input and actions fit the NumPy paths: an MLP on flat inputs,
    float32 on the CPU, a categorical over a Discrete space or a diagonal Gaussian."""
    preprocess = policy.preprocess
    if policy.kind != "mlp" or not isinstance(preprocess, ObsPreprocess) or preprocess.layout:
        return False
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in policy.parameters()):
        return False
    features = list(policy.features)
    if len(features) != 1 or type(features[0]) is not nn.Flatten or features[0].start_dim != 1:
        return False
    dist = policy.dist
    discrete = isinstance(dist, CategoricalActions) and isinstance(
        dist.space, gymnasium.spaces.Discrete
    )
    return discrete or isinstance(dist, GaussianActions)


class SingleEnv(VectorEnv):
    """One environment as a vector env of size one, with ``SyncVectorEnv``'s same-step
    autoreset: at an episode's end, ``info["final_obs"]``/``info["final_info"]`` hold the last
    observation and info and the returned observation starts the next episode.

    Unlike ``SyncVectorEnv`` it skips the info batching when the env's info is empty and does
    not deep-copy observations (each step returns a new array).
    """

    def __init__(self, env: gymnasium.Env[Any, Any]) -> None:
        self.env = env
        self.num_envs = 1
        self.single_observation_space = env.observation_space
        self.single_action_space = env.action_space
        self.observation_space = batch_space(env.observation_space, 1)
        self.action_space = batch_space(env.action_space, 1)
        self.metadata = {**getattr(env, "metadata", {}), "autoreset_mode": AutoresetMode.SAME_STEP}
        self.render_mode = getattr(env, "render_mode", None)
        self.spec = getattr(env, "spec", None)
        self.closed = False
        self._shape = (1, *(env.observation_space.shape or ()))
        self._dtype = env.observation_space.dtype
        self._box = isinstance(env.observation_space, gymnasium.spaces.Box)

    def _batch(self, obs: Any) -> np.ndarray:
        if self._box:
            out = np.empty(self._shape, self._dtype)
            out[0] = obs
            return out
        # Discrete, Dict, Tuple: batched as SyncVectorEnv does (renshu.inputs encodes them)
        space = self.single_observation_space
        empty: Any = create_empty_array(space, 1)
        batched: Any = concatenate(space, [obs], empty)
        return batched

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the env (``seed`` may be an int or a one-element list)."""
        if isinstance(seed, list):
            (seed,) = seed
        obs, info = self.env.reset(seed=seed, options=options)
        return self._batch(obs), self._add_info({}, info, 0) if info else {}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step with ``actions[0]``; reset in the same step when the episode ends."""
        obs, reward, terminated, truncated, info = self.env.step(actions[0])
        infos: dict[str, Any] = {}
        if terminated or truncated:
            infos = self._add_info(infos, {"final_obs": obs, "final_info": info}, 0)
            obs, info = self.env.reset()
        if info:
            infos = self._add_info(infos, info, 0)
        return (
            self._batch(obs),
            np.array([reward], dtype=np.float64),
            np.array([terminated], dtype=np.bool_),
            np.array([truncated], dtype=np.bool_),
            infos,
        )

    def render(self) -> tuple[Any, ...]:
        """The env's render, as a one-element tuple (as ``SyncVectorEnv``)."""
        return (self.env.render(),)

    def close_extras(self, **kwargs: Any) -> None:
        """Close the env."""
        self.env.close()


_BLAS: list[Any] = []  # [threadpoolctl.ThreadpoolController] once looked up; [None] without it


def _blas_controller() -> Any:
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            _BLAS.append(None)
        else:
            _BLAS.append(ThreadpoolController())
    return _BLAS[0]


@contextmanager
def limit_threads(threads: int | None) -> Iterator[None]:
    """Inside, torch uses ``threads`` intra-op threads and NumPy's BLAS at most ``threads``
    (through threadpoolctl); both are restored afterwards. ``None`` changes nothing.

    Example:
        >>> with limit_threads(1):
        ...     torch.get_num_threads()
        1
    """
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    if previous != threads:
        torch.set_num_threads(threads)
    controller = _blas_controller()
    blas = controller.limit(limits=threads, user_api="blas") if controller is not None else None
    try:
        yield
    finally:
        if blas is not None:
            blas.restore_original_limits()
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)

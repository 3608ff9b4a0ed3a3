"""Q-networks: an MLP, a small CNN for 8x8 to 84x84 frames, a dueling head; a Keras-like summary.

:func:`build_q_network` turns an observation shape and dtype into a ``torch.nn.Module`` mapping a
batch of observations ``(B, *obs_shape)`` to Q-values ``(B, n_actions)``. uint8 observations are
converted to float and divided by 255 inside the module, so the replay buffer and the acting loop
keep frames as uint8. Layers keep PyTorch's default initialisation (Kaiming-uniform weights).

Example:
    >>> import numpy as np, torch
    >>> q = build_q_network((1,), np.dtype(np.float32), 3, net=(24, 24))
    >>> q(torch.zeros(5, 1)).shape
    torch.Size([5, 3])
    >>> "Total params: 723" in summary(q, (1, 1))
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from renshu.errors import ConfigError

__all__ = [
    "DuelingHead",
    "ModuleNet",
    "MultiInput",
    "ObsPreprocess",
    "QNetwork",
    "RunningNorm",
    "activation_class",
    "build_q_network",
    "input_layers",
    "mlp_layers",
    "resolve_net",
    "summary",
]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}
"""Activation names accepted by :func:`build_q_network`."""

MLP_HIDDEN: tuple[int, ...] = (64, 64)
"""Hidden sizes of the MLP chosen by ``net="auto"`` and ``net="mlp"``."""

MAX_STACKED_CHANNELS = 16
"""Largest leading dimension read as channels (or stacked frames) of an image observation."""


def _torch_dtype(dtype: np.dtype[Any] | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    return torch.from_numpy(np.zeros(0, dtype=np.dtype(dtype))).dtype


def image_layout(obs_shape: tuple[int, ...]) -> tuple[str, int, int, int] | None:
    """How to read ``obs_shape`` as an image: ``(layout, channels, height, width)``, or None.

    Layouts: ``"hw"`` one grey frame; ``"chw"`` channels or stacked frames first (at most
    :data:`MAX_STACKED_CHANNELS`); ``"hwc"`` channels last (at most 4); ``"kchw"`` / ``"khwc"``
    stacked colour frames (merged into ``k * c`` channels).
    """
    s = tuple(obs_shape)
    if len(s) == 2:
        return "hw", 1, s[0], s[1]
    if len(s) == 3:
        if s[0] <= MAX_STACKED_CHANNELS:
            return "chw", s[0], s[1], s[2]
        if s[2] <= 4:
            return "hwc", s[2], s[0], s[1]
        return None
    if len(s) == 4 and s[0] * min(s[1], s[3]) <= MAX_STACKED_CHANNELS:
        if s[1] <= 4 < s[3]:
            return "kchw", s[0] * s[1], s[2], s[3]
        if s[3] <= 4:
            return "khwc", s[0] * s[3], s[1], s[2]
    return None


def is_image(obs_shape: tuple[int, ...], obs_dtype: np.dtype[Any]) -> bool:
    """The ``net="auto"`` rule: uint8 pixels in an image layout, both sides at least 16."""
    layout = image_layout(obs_shape)
    return np.dtype(obs_dtype) == np.uint8 and layout is not None and min(layout[2:]) >= 16


NORM_CLIP = 10.0
"""Normalized observations are clipped to [-NORM_CLIP, NORM_CLIP] (as SB3's VecNormalize)."""

NORM_EPS = 1e-8
"""Added to the variance before its square root (as SB3's VecNormalize)."""

NORM_CHUNK = 16
"""Observations :class:`RunningNorm` gathers before folding them into its statistics (CPU)."""

NORM_BOUNDS_SPAN = 10.0
"""A float dimension with finite declared bounds is never scaled up beyond
``NORM_BOUNDS_SPAN / half_range`` (its standard deviation is taken as at least a tenth of its
half-range, so the declared range stays within about the clip). Early statistics come from a
random policy, which may barely move a dimension that matters later (CartPole's cart position:
0.07 of its +-4.8 in random play, 0.8 once the pole balances); scaled up fourteenfold on that
evidence, CartPole-v1 took a median of 11,000 steps to solve instead of 3,000. 5 instead of 10
solved CartPole more reliably but cost LunarLander-v3 (+-10 declared velocities, typical
values +-1) most of its score; at 10 the velocities keep at least their raw scale."""

MAX_BOUNDED_RANGE = 1e4
"""Declared bounds wider than this (``high - low``) are treated as unbounded."""


def bounds_scale_cap(
    low: np.ndarray | float, high: np.ndarray | float, shape: tuple[int, ...]
) -> np.ndarray:
    """The largest scale :class:`RunningNorm` may use per element of ``shape``:
    ``NORM_BOUNDS_SPAN / ((high - low) / 2)`` where the bounds are finite and at most
    :data:`MAX_BOUNDED_RANGE` apart, ``inf`` elsewhere (float32)."""
    low = np.broadcast_to(np.asarray(low, dtype=np.float64), shape)
    high = np.broadcast_to(np.asarray(high, dtype=np.float64), shape)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):  # inf - inf: unbounded
        span = high - low
        ok = np.isfinite(span) & (span > 0) & (span <= MAX_BOUNDED_RANGE)
        cap = np.where(ok, NORM_BOUNDS_SPAN / np.where(ok, span / 2, 1.0), np.inf)
    return cap.astype(np.float32)


class RunningNorm(nn.Module):
    """Running mean and variance of observations, per element, and the normalization they give:
    ``clip((x - mean) * min(1 / sqrt(var + NORM_EPS), max_scale), -NORM_CLIP, NORM_CLIP)``.

    The statistics are buffers (``mean``, ``var``, ``count``, float64), so they are saved and
    loaded with the weights. They change only through :meth:`update` (the agent calls it with the
    observations it sees while training): on the CPU observations gather in ``pending`` (a
    buffer too) and every :data:`NORM_CHUNK` rows are folded in at once with the parallel-variance
    formula of Chan et al. (batched Welford), which costs a fraction of a fold per step; on
    other devices each batch is folded as it comes. Deterministic for a given sequence of
    batches, and saved whole, so a resumed run continues exactly. Before any fold the mean is 0
    and the variance 1 (the identity).

    Args:
        shape: shape of the statistics: one observation, or one frame of a stack (the frames
            share them: the normalization broadcasts over leading axes).
        index: positions, in a flat input vector, of the elements tracked (a Dict observation's
            float parts); ``shape`` is then ``(len(index),)``.
        max_scale: the largest scale per element (broadcastable to ``shape``; ``inf``: none),
            from the declared bounds (:func:`bounds_scale_cap`). Not saved: it is rebuilt from
            the observation space with the network.
    """

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor
    shift: torch.Tensor
    scale: torch.Tensor
    pending: torch.Tensor
    pending_count: torch.Tensor
    max_scale: torch.Tensor

    def __init__(
        self,
        shape: tuple[int, ...],
        index: np.ndarray | None = None,
        max_scale: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.shape = tuple(int(d) for d in shape)
        self.index = None if index is None else np.asarray(index, dtype=np.int64)
        self.register_buffer("mean", torch.zeros(self.shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(self.shape, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("pending", torch.zeros((NORM_CHUNK, *self.shape), dtype=torch.float64))
        self.register_buffer("pending_count", torch.zeros((), dtype=torch.int64))
        # What forward uses, float32, derived from the statistics (not saved: recomputed).
        self.register_buffer("shift", torch.zeros(self.shape), persistent=False)
        self.register_buffer("scale", torch.ones(self.shape), persistent=False)
        cap = np.full(self.shape, np.inf, np.float32) if max_scale is None else max_scale
        cap = np.broadcast_to(np.asarray(cap, dtype=np.float32), self.shape)
        self.register_buffer("max_scale", torch.tensor(cap), persistent=False)
        self._views: tuple[np.ndarray, ...] = ()
        self._views_key = -1
        self._refresh()

    def _arrays(self) -> tuple[np.ndarray, ...]:
        """NumPy views of mean, var, count, shift, scale, pending, pending_count and max_scale,
        cached; ``()`` off the CPU."""
        mean = self.mean
        key = mean.data_ptr()
        if self._views_key != key:
            tensors = [mean, self.var, self.count, self.shift, self.scale, self.pending]
            tensors += [self.pending_count, self.max_scale]
            on_cpu = mean.device.type == "cpu"
            self._views = tuple(t.numpy() for t in tensors) if on_cpu else ()
            self._views_key = key
        return self._views

    def update(self, batch: np.ndarray) -> None:
        """Add a batch ``(B, *shape)`` (or ``(B, D)`` flat inputs with ``index``) to the
        statistics."""
        x = batch if self.index is None else batch[:, self.index]
        b = len(x)
        views = self._arrays()
        if not views:
            if b:
                self._update_on_device(np.asarray(x))
            return
        pending, pending_count = views[5], views[6]
        n = int(pending_count)
        if n + b > NORM_CHUNK:  # does not fit: fold what waits, then the batch if it is large
            self._fold(pending[:n])
            n = 0
            if b >= NORM_CHUNK:
                self._fold(np.asarray(x).reshape(b, *self.shape))
                pending_count[...] = 0
                return
        pending[n : n + b] = np.asarray(x).reshape(b, *self.shape)
        n += b
        if n == NORM_CHUNK:
            self._fold(pending)
            n = 0
        pending_count[...] = n

    def flush(self) -> None:
        """Fold the observations waiting in ``pending`` into the statistics now."""
        views = self._arrays()
        if views:
            pending, pending_count = views[5:7]
            self._fold(pending[: int(pending_count)])
            pending_count[...] = 0

    def _fold(self, x: np.ndarray) -> None:
        """Chan et al.'s parallel update with a batch ``(b, *shape)`` (CPU)."""
        b = len(x)
        if b == 0:
            return
        mean, var, count = self._arrays()[:3]
        n = float(count)
        total = n + b
        delta = x.mean(axis=0, dtype=np.float64) - mean
        var *= n / total
        var += (x.var(axis=0, dtype=np.float64) * b + delta * delta * (n * b / total)) / total
        mean += delta * (b / total)
        count[...] = total
        self._refresh()

    @torch.no_grad()
    def _update_on_device(self, x: np.ndarray) -> None:
        b = len(x)
        t = torch.as_tensor(x.reshape(b, *self.shape), dtype=torch.float64, device=self.mean.device)
        n = float(self.count)
        total = n + b
        delta = t.mean(dim=0) - self.mean
        batch_var = t.var(dim=0, unbiased=False) if b > 1 else torch.zeros_like(self.var)
        self.var.mul_(n / total).add_((batch_var * b + delta * delta * (n * b / total)) / total)
        self.mean.add_(delta * (b / total))
        self.count.fill_(total)
        self._refresh()

    @torch.no_grad()
    def follow(self, source: RunningNorm, weight: float = 1.0) -> None:
        """Move these statistics toward ``source``'s: a copy when ``weight`` is 1 (a target
        network's normalization follows the online network's as its weights do)."""
        if weight == 1.0:
            self.mean.copy_(source.mean)
            self.var.copy_(source.var)
            self.count.copy_(source.count)
        else:
            self.mean.lerp_(source.mean, weight)
            self.var.lerp_(source.var, weight)
            self.count.lerp_(source.count, weight)
        self._refresh()

    @torch.no_grad()
    def _refresh(self) -> None:
        """Recompute the float32 ``shift`` and ``scale`` from the statistics, in place (the NumPy
        fast path holds views of them)."""
        views = self._arrays()
        if views:
            mean, var, _, shift, scale = views[:5]
            shift[...] = mean
            np.divide(1.0, np.sqrt(var + NORM_EPS), out=scale, casting="same_kind")
            np.minimum(scale, views[7], out=scale)
        else:
            self.shift.copy_(self.mean)
            self.scale.copy_(torch.minimum(1.0 / torch.sqrt(self.var + NORM_EPS), self.max_scale))

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._refresh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize and clip a float batch."""
        return ((x - self.shift) * self.scale).clamp_(-NORM_CLIP, NORM_CLIP)

    def extra_repr(self) -> str:
        """Shown by ``print(module)``."""
        return f"shape={self.shape}, clip={NORM_CLIP}"


class ObsPreprocess(nn.Module):
    """Observation batch -> float32, normalized, in the layout the torso expects.

    uint8 is scaled to [0, 1]. Other observations are normalized by running statistics
    (:class:`RunningNorm`, ``norm``) when built with ``normalize``, never scaled up beyond what
    the declared ``bounds`` allow (:func:`bounds_scale_cap`). Image layouts become
    ``(B, C, H, W)``; layout ``"as_is"`` keeps the observation's shape (in front of a network
    the user passes, :class:`ModuleNet`).
    """

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        obs_dtype: np.dtype[Any],
        layout: str | None,
        normalize: bool | tuple[int, ...] = False,
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        super().__init__()
        self.obs_shape = tuple(obs_shape)
        self.scale = np.dtype(obs_dtype) == np.uint8
        self.layout = layout
        self.norm: RunningNorm | None = None
        if normalize is not False and not self.scale:
            shape = self.obs_shape if normalize is True else tuple(normalize)
            cap = None if bounds is None else bounds_scale_cap(*bounds, shape)
            self.norm = RunningNorm(shape, max_scale=cap)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convert ``(B, *obs_shape)`` to float (``(B, C, H, W)`` for images)."""
        x = x.float() / 255.0 if self.scale else x.to(torch.float32)
        if self.norm is not None:
            x = self.norm(x)
        if self.layout == "hw":
            x = x.unsqueeze(1)
        elif self.layout == "hwc":
            x = x.permute(0, 3, 1, 2)
        elif self.layout == "kchw":
            x = x.flatten(1, 2)
        elif self.layout == "khwc":
            x = x.permute(0, 1, 4, 2, 3).flatten(1, 2)
        elif self.layout is None and len(self.obs_shape) == 0:
            x = x.unsqueeze(1)
        return x  # layout "as_is": the shape it came in

    def extra_repr(self) -> str:
        """Shown by ``print(module)``."""
        return f"scale_uint8={self.scale}, layout={self.layout}"


class DuelingHead(nn.Module):
    """Dueling head (Wang et al. 2016): ``Q = V + A - mean(A)`` from one feature vector."""

    def __init__(self, in_features: int, n_actions: int) -> None:
        super().__init__()
        self.value = nn.Linear(in_features, 1)
        self.advantage = nn.Linear(in_features, n_actions)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, in_features)`` -> ``(B, n_actions)``."""
        value = self.value(features)
        advantage = self.advantage(features)
        return value + advantage - advantage.mean(dim=1, keepdim=True)


def is_module(value: Any) -> bool:
    """Whether ``value`` is a torch module (a network option given as an object)."""
    return isinstance(value, nn.Module)


def input_norm(network: nn.Module) -> RunningNorm | None:
    """The running observation statistics inside one of renshu's networks, or None."""
    return getattr(getattr(network, "preprocess", None), "norm", None)


def soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """``target += tau * (online - target)`` over parameters; a copy of the whole state (buffers
    included) when ``tau`` is 1."""
    if tau == 1.0:
        target.load_state_dict(online.state_dict())
        return
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), list(online.parameters()), tau)


class QNetwork(nn.Module):
    """``preprocess -> torso -> head``: observations ``(B, *obs_shape)`` to Q-values ``(B, A)``."""

    def __init__(
        self,
        preprocess: ObsPreprocess | MultiInput,
        torso: nn.Sequential,
        head: nn.Module,
        *,
        kind: str,
        n_actions: int,
        dueling: bool,
    ) -> None:
        super().__init__()
        self.preprocess = preprocess
        self.torso = torso
        self.head = head
        self.kind = kind
        self.obs_shape = preprocess.obs_shape
        self.n_actions = n_actions
        self.dueling = dueling

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values of a batch of observations."""
        return self.head(self.torso(self.preprocess(obs)))


class ModuleNet(nn.Module):
    """``preprocess -> module``: a network the user passes, behind renshu's input layer.

    ``preprocess`` (:class:`ObsPreprocess`, layout ``"as_is"``) hands ``module`` float32
    observations of their own shape: uint8 divided by 255, others normalized by running
    statistics (``preprocess.norm``, updated while the agent trains, saved with the weights), as
    renshu's own networks see them. The parameters are the module's; the statistics are buffers.
    """

    def __init__(self, preprocess: ObsPreprocess, module: nn.Module) -> None:
        super().__init__()
        params = list(module.parameters())
        self.preprocess = preprocess.to(params[0].device) if params else preprocess
        self.module = module
        self.obs_shape = preprocess.obs_shape

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values of a batch of observations."""
        out: torch.Tensor = self.module(self.preprocess(obs))
        return out


def _cnn_layers(size: int) -> tuple[list[tuple[int, int, int, int]], int]:
    """Conv layers ``(channels, kernel, stride, padding)`` and dense width for a frame side.

    Small frames get a small network: these train on a laptop CPU, where every conv MAC counts
    (the 48x48 torso below costs about a fifth of a 32-64-64 one and learns Cave as well).
    """
    if size >= 64:  # Nature DQN (Mnih et al. 2015), 84x84 -> 20 -> 9 -> 7
        return [(32, 8, 4, 0), (64, 4, 2, 0), (64, 3, 1, 0)], 512
    if size >= 32:  # 48x48 -> 11 -> 4
        return [(16, 8, 4, 0), (32, 4, 2, 0)], 256
    if size >= 16:  # 16x16 -> 7 -> 5
        return [(16, 4, 2, 0), (32, 3, 1, 0)], 128
    if size >= 8:  # 8x8 -> 6 -> 4
        return [(16, 3, 1, 0), (32, 3, 1, 0)], 128
    return [(16, 3, 1, 1), (32, 3, 1, 1)], 128  # tiny frames: keep the size


def activation_class(name: str) -> type[nn.Module]:
    """The activation module class named ``name`` (:data:`ACTIVATIONS`).

    Raises:
        ConfigError: an unknown name.
    """
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}"
        ) from None


def _check_hidden(net: Sequence[Any]) -> tuple[int, ...]:
    hidden = tuple(net)
    if not all(isinstance(h, (int, np.integer)) and not isinstance(h, bool) for h in hidden) or any(
        h < 1 for h in hidden
    ):
        raise ConfigError(f"net hidden sizes must be integers >= 1, got {net!r}")
    return tuple(int(h) for h in hidden)


def _check_module(
    module: nn.Module,
    obs_shape: tuple[int, ...],
    obs_dtype: np.dtype[Any],
    n_actions: int,
    receives: str,
) -> None:
    """Dry forward pass on zeros: the output must be ``(B, n_actions)``. ``receives`` says what
    the user's module is given, for the message."""
    params = list(module.parameters())
    device = params[0].device if params else torch.device("cpu")
    dummy = torch.zeros((2, *obs_shape), dtype=_torch_dtype(obs_dtype), device=device)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(dummy)
    except Exception as error:
        raise ConfigError(
            f"net module failed on a zero batch of shape {tuple(dummy.shape)} ({receives}): {error}"
        ) from error
    finally:
        module.train(was_training)
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else None
    if shape != (2, n_actions):
        raise ConfigError(
            f"net module must map (B, *obs_shape) to (B, n_actions) = (B, {n_actions}); "
            f"on a batch of 2 it returned {shape if shape is not None else type(out).__name__}"
        )


def _cnn_torso(
    channels: int, height: int, width: int, act: type[nn.Module]
) -> tuple[list[nn.Module], int]:
    """Conv layers, Flatten and the dense layer for ``(B, channels, height, width)`` frames, and
    the number of features they output."""
    layers: list[nn.Module] = []
    convs, dense = _cnn_layers(min(height, width))
    in_channels = channels
    for out_channels, kernel, stride, padding in convs:
        layers += [nn.Conv2d(in_channels, out_channels, kernel, stride, padding), act()]
        in_channels = out_channels
    layers.append(nn.Flatten())
    with torch.no_grad():
        flat = nn.Sequential(*layers)(torch.zeros(1, channels, height, width)).shape[1]
    layers += [nn.Linear(flat, dense), act()]
    return layers, dense


class MultiInput(nn.Module):
    """A flat encoded observation ``(B, size)`` (:class:`renshu.inputs.ObsEncoder`) -> features
    ``(B, F)``: float parts normalized by running statistics (``norm``, when built with
    ``normalize``), 0/1 parts as they are, uint8 parts scaled to [0, 1], a one-hot per Discrete
    part and a CNN per image part, concatenated.
    """

    def __init__(self, parts: Sequence[Any], act: type[nn.Module], *, normalize: bool) -> None:
        super().__init__()
        self.parts = list(parts)
        size = sum(p.size for p in self.parts)
        self.obs_shape: tuple[int, ...] = (size,)
        self.scale, self.layout = False, "multi"

        def positions(kinds: tuple[str, ...]) -> np.ndarray:
            ranges = [np.arange(p.offset, p.offset + p.size) for p in self.parts if p.kind in kinds]
            return np.concatenate(ranges) if ranges else np.zeros(0, np.int64)

        floats, raw, pixels = positions(("float",)), positions(("binary",)), positions(("uint8",))
        self.norm: RunningNorm | None = (
            RunningNorm((len(floats),), index=floats) if normalize and len(floats) else None
        )
        for name, index in (("floats", floats), ("raw", raw), ("pixels", pixels)):
            self.register_buffer(name, torch.as_tensor(index, dtype=torch.int64), persistent=False)
        self.floats: torch.Tensor
        self.raw: torch.Tensor
        self.pixels: torch.Tensor
        self.discrete = [p for p in self.parts if p.kind == "discrete"]
        self.images = [p for p in self.parts if p.kind == "image"]
        self.image_preprocess = nn.ModuleList()
        self.image_torsos = nn.ModuleList()
        features = len(floats) + len(raw) + len(pixels) + sum(p.n for p in self.discrete)
        for part in self.images:
            layout = image_layout(part.shape)
            assert layout is not None
            name, channels, height, width = layout
            self.image_preprocess.append(ObsPreprocess(part.shape, np.dtype(np.uint8), name))
            layers, dense = _cnn_torso(channels, height, width, act)
            self.image_torsos.append(nn.Sequential(*layers))
            features += dense
        self.features = features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, size)`` -> ``(B, features)``."""
        chunks: list[torch.Tensor] = []
        if len(self.floats):
            values = x.index_select(1, self.floats).to(torch.float32)
            chunks.append(self.norm(values) if self.norm is not None else values)
        if len(self.raw):
            chunks.append(x.index_select(1, self.raw).to(torch.float32))
        if len(self.pixels):
            chunks.append(x.index_select(1, self.pixels).to(torch.float32) / 255.0)
        for part in self.discrete:
            chunks.append(F.one_hot(x[:, part.offset].long(), part.n).to(torch.float32))
        for part, prep, torso in zip(
            self.images, self.image_preprocess, self.image_torsos, strict=True
        ):
            frame = x[:, part.offset : part.offset + part.size].reshape(-1, *part.shape)
            chunks.append(torso(prep(frame)))
        return torch.cat(chunks, dim=1)

    def extra_repr(self) -> str:
        """Shown by ``print(module)``."""
        return ", ".join(f"{p.key or 'obs'}: {p.kind}" for p in self.parts)


def resolve_net(
    net: str | Sequence[int],
    obs_shape: tuple[int, ...],
    obs_dtype: np.dtype[Any],
    inputs: Sequence[Any] | None = None,
) -> tuple[str, tuple[int, ...]]:
    """The torso ``net`` asks for: ``("cnn" | "mlp", hidden sizes)``.

    ``"auto"`` picks a CNN for uint8 images at least 16x16 (:func:`is_image`), an MLP with
    :data:`MLP_HIDDEN` otherwise; a sequence of hidden sizes is an MLP.

    Raises:
        ConfigError: an unknown name, bad hidden sizes, or ``"cnn"`` with ``inputs``.
    """
    if isinstance(net, str):
        if net not in ("auto", "mlp", "cnn"):
            raise ConfigError(
                f"net must be 'auto', 'mlp', 'cnn', a sequence of hidden sizes or an "
                f"nn.Module, got {net!r}"
            )
        kind = net if net != "auto" else ("cnn" if is_image(obs_shape, obs_dtype) else "mlp")
        hidden = MLP_HIDDEN
    else:
        kind, hidden = "mlp", _check_hidden(net)
    if inputs is not None and kind == "cnn":
        raise ConfigError(
            "net='cnn' needs a single image observation; with a Dict or Tuple observation "
            "each image key gets a CNN of its own under net='auto' or hidden sizes"
        )
    return kind, hidden


def input_layers(
    kind: str,
    obs_shape: tuple[int, ...],
    obs_dtype: np.dtype[Any],
    act: type[nn.Module],
    *,
    normalize: bool | tuple[int, ...] = False,
    inputs: Sequence[Any] | None = None,
    obs_bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[ObsPreprocess | MultiInput, list[nn.Module], int]:
    """The preprocessing and the layers before the hidden ones, and the features they output.

    ``kind`` ``"cnn"`` (from :func:`resolve_net`): :class:`ObsPreprocess` and the conv layers
    with their dense layer; ``"mlp"``: :class:`ObsPreprocess` and a Flatten; with ``inputs``
    (encoded Dict/Tuple parts): :class:`MultiInput` and no layers. ``act`` is the activation of
    the conv layers. See :func:`build_q_network` for the other arguments.

    Raises:
        ConfigError: ``"cnn"`` for an observation that is no image.
    """
    if inputs is not None:
        preprocess = MultiInput(inputs, act, normalize=normalize is not False)
        return preprocess, [], preprocess.features
    if kind == "cnn":
        layout = image_layout(obs_shape)
        if layout is None:
            raise ConfigError(
                f"net='cnn' needs an image observation (H, W), (C, H, W) with C <= "
                f"{MAX_STACKED_CHANNELS}, (H, W, C) with C <= 4 or stacked frames of those, "
                f"got obs_shape {obs_shape}"
            )
        name, channels, height, width = layout
        single = ObsPreprocess(obs_shape, obs_dtype, name, normalize, obs_bounds)
        layers, features = _cnn_torso(channels, height, width, act)
        return single, layers, features
    single = ObsPreprocess(obs_shape, obs_dtype, None, normalize, obs_bounds)
    return single, [nn.Flatten()], math.prod(obs_shape)


def mlp_layers(
    features: int, hidden: Sequence[int], act: type[nn.Module]
) -> tuple[list[nn.Module], int]:
    """``Linear, act`` per hidden size from ``features`` inputs, and the features they output."""
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(features, size), act()]
        features = size
    return layers, features


def build_q_network(
    obs_shape: tuple[int, ...],
    obs_dtype: np.dtype[Any],
    n_actions: int,
    *,
    net: str | Sequence[int] | nn.Module = "auto",
    dueling: bool = False,
    activation: str = "relu",
    normalize: bool | tuple[int, ...] = False,
    inputs: Sequence[Any] | None = None,
    obs_bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> nn.Module:
    """Build a Q-network for observations of ``obs_shape``/``obs_dtype`` and ``n_actions``.

    Args:
        obs_shape: shape of one observation (stacked frames included), without the batch axis.
        obs_dtype: dtype the observations arrive in; uint8 is scaled to [0, 1] inside the net.
        n_actions: number of discrete actions (output size).
        net: ``"auto"`` (a CNN for uint8 images at least 16x16 -- ``(H, W)``, ``(C, H, W)`` with
            up to 16 channels or stacked frames, ``(H, W, C)`` -- otherwise an MLP with hidden
            sizes (64, 64)); ``"mlp"``; ``"cnn"`` (any image layout, any size from 1x1; the
            kernels and strides shrink with the frame: Nature DQN's 8/4, 4/2, 3/1 from 64x64 up,
            smaller below); a sequence of hidden sizes, e.g. ``(24, 24)``; or an ``nn.Module``
            mapping ``(B, *obs_shape)`` to ``(B, n_actions)`` (checked with a dry forward pass).
            With ``normalize`` a module gets renshu's input layer in front (:class:`ModuleNet`:
            float32, uint8 divided by 255, other observations normalized); without, it is used
            as is and receives the batch as stored (uint8 stays uint8). A module needs a Box
            observation (``inputs`` None).
        dueling: replace the output layer with a dueling head ``Q = V + A - mean(A)``.
        activation: one of :data:`ACTIVATIONS`.
        normalize: normalize non-uint8 observations by running mean and variance
            (:class:`RunningNorm`, updated by the agent while it trains); ``True`` keeps
            statistics of ``obs_shape``, a shape those of one stacked frame.
        inputs: the parts of a flat encoded observation (:attr:`renshu.inputs.ObsEncoder.parts`:
            a Discrete, Dict or Tuple space); ``obs_shape`` is then ``(size,)``. Each part gets
            its own torso (:class:`MultiInput`), the MLP hidden layers follow the concatenation.
        obs_bounds: ``(low, high)`` declared for the normalized observation (one frame with
            ``normalize`` a shape): finite bounds cap how far the normalization scales a
            dimension up (:func:`bounds_scale_cap`).
    """
    obs_shape = tuple(int(d) for d in obs_shape)
    obs_dtype = np.dtype(obs_dtype)
    if isinstance(n_actions, bool) or not isinstance(n_actions, (int, np.integer)) or n_actions < 1:
        raise ConfigError(f"n_actions must be an integer >= 1, got {n_actions!r}")
    n_actions = int(n_actions)

    if isinstance(net, nn.Module):
        if dueling:
            raise ConfigError(
                "dueling must be False when net is a module (renshu does not change its layers); "
                "build the dueling head into the module instead"
            )
        if inputs is not None:
            raise ConfigError(
                f"net given as a module ({type(net).__name__}) needs a Box observation: a "
                "Discrete, Dict or Tuple observation reaches the network in renshu's own flat "
                "encoding, which a module cannot know. Use net='auto' or hidden sizes (each part "
                "gets its own input layer), or wrap the env in gymnasium.wrappers."
                "FlattenObservation so that it returns a Box."
            )
        if normalize is False:
            receives = f"the observations as stored, {np.dtype(obs_dtype).name}"
            _check_module(net, obs_shape, obs_dtype, n_actions, receives)
            return net
        wrapped = ModuleNet(
            ObsPreprocess(obs_shape, obs_dtype, "as_is", normalize, obs_bounds), net
        )
        receives = "float32 observations, " + (
            "uint8 divided by 255" if wrapped.preprocess.scale else "normalized"
        )
        _check_module(wrapped, obs_shape, obs_dtype, n_actions, receives)
        return wrapped

    act = activation_class(activation)
    kind, hidden = resolve_net(net, obs_shape, obs_dtype, inputs)
    preprocess, layers, features = input_layers(
        kind, obs_shape, obs_dtype, act, normalize=normalize, inputs=inputs, obs_bounds=obs_bounds
    )
    if kind != "cnn":
        kind = "multi" if inputs is not None else kind
        hidden_layers, features = mlp_layers(features, hidden, act)
        layers += hidden_layers

    head: nn.Module = (
        DuelingHead(features, n_actions) if dueling else nn.Linear(features, n_actions)
    )
    return QNetwork(
        preprocess, nn.Sequential(*layers), head, kind=kind, n_actions=n_actions, dueling=dueling
    )


def _shape_of(output: Any) -> str:
    if isinstance(output, torch.Tensor):
        return str((None, *output.shape[1:])).replace("None,)", "None)")
    if isinstance(output, (tuple, list)):
        return "[" + ", ".join(_shape_of(o) for o in output) + "]"
    return type(output).__name__


def summary(
    module: nn.Module, input_shape: tuple[int, ...], dtype: torch.dtype = torch.float32
) -> str:
    """A Keras-like layer table: name (type), output shape, parameter count, and totals.

    Runs one forward pass on zeros of ``input_shape`` -- an input batch, batch axis first, e.g.
    ``(1, *obs_shape)`` -- and ``dtype``, with forward hooks on the leaf modules, in eval mode
    (restored afterwards). Output shapes show the batch axis as ``None``. Parameters of a module
    called twice are counted once; parameters of a module the forward pass does not call get a
    row with ``-`` as output shape.

    Example:
        >>> import numpy as np
        >>> print(summary(build_q_network((1,), np.dtype(np.float32), 3, net=(24, 24)), (1, 1)))
        ... # doctest: +NORMALIZE_WHITESPACE
        Model: "QNetwork"
        _________________________________________________________________
         Layer (type)                Output Shape              Param #
        =================================================================
         preprocess (ObsPreprocess)  (None, 1)                 0
         torso.0 (Flatten)           (None, 1)                 0
         torso.1 (Linear)            (None, 24)                48
         torso.2 (ReLU)              (None, 24)                0
         torso.3 (Linear)            (None, 24)                600
         torso.4 (ReLU)              (None, 24)                0
         head (Linear)               (None, 3)                 75
        =================================================================
        Total params: 723
        Trainable params: 723
        Non-trainable params: 0
        _________________________________________________________________
    """
    if len(tuple(input_shape)) == 0:
        raise ConfigError("input_shape must be an input batch shape, batch axis first, got ()")
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()
    names = {m: name for name, m in module.named_modules()}

    def hook(layer: nn.Module, _inputs: Any, output: Any) -> None:
        count = 0
        if id(layer) not in seen:
            seen.add(id(layer))
            count = sum(p.numel() for p in layer.parameters(recurse=False))
        name = names.get(layer) or type(layer).__name__
        rows.append((f"{name} ({type(layer).__name__})", _shape_of(output), f"{count:,}"))

    leaves = [m for m in module.modules() if not any(True for _ in m.children())]
    handles = [leaf.register_forward_hook(hook) for leaf in leaves]
    params = list(module.parameters())
    device = params[0].device if params else torch.device("cpu")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(torch.zeros(tuple(input_shape), dtype=dtype, device=device))
    finally:
        module.train(was_training)
        for handle in handles:
            handle.remove()
    for layer in module.modules():  # parameters outside forward (a Gaussian policy's log std)
        count = sum(p.numel() for p in layer.parameters(recurse=False))
        if count and id(layer) not in seen:
            kind = type(layer).__name__
            rows.append((f"{names[layer] or kind} ({kind})", "-", f"{count:,}"))

    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    header = ("Layer (type)", "Output Shape", "Param #")
    w0 = max(27, *(len(r[0]) for r in rows)) if rows else 27
    w1 = max(25, *(len(r[1]) for r in rows)) if rows else 25
    w2 = max(10, *(len(r[2]) for r in rows)) if rows else 10
    width = 1 + w0 + 1 + w1 + 1 + w2

    def line(cells: tuple[str, str, str]) -> str:
        return f" {cells[0]:<{w0}} {cells[1]:<{w1}} {cells[2]}".rstrip()

    out = [f'Model: "{type(module).__name__}"', "_" * width, line(header), "=" * width]
    out += [line(row) for row in rows]
    out += [
        "=" * width,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        "_" * width,
    ]
    return "\n".join(out)

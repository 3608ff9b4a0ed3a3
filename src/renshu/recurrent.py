"""The recurrent core that gives an agent memory: an LSTM over the torso's features whose state
starts from zero where an episode starts.

DRQN and recurrent PPO/A2C put it between the observation torso renshu builds (MLP, CNN, Dict
inputs) and their heads. Sequences are time-major, ``(T, B, features)``, as :class:`torch.nn.LSTM`
takes them; a state is the pair ``(h, c)``, each ``(1, B, hidden_size)``.

Where an episode starts inside a sequence, the state of that env is zeroed before the step. On
the CPU the unrolled pass is :class:`LSTMUnroll`: the LSTM's forward and backward passes written
out in NumPy on the weights' own memory (one matrix product for every step's input, then one per
step; the resets are masks, so episode starts cost nothing), checked against ``torch.nn.LSTM``
in ``tests/test_recurrent.py``. torch's LSTM on the CPU runs its backward pass as autograd over
every step's small operations, several times slower at these sizes (BENCHMARKS.md). Elsewhere
(CUDA) ``nn.LSTM`` runs once per stretch of steps without a start.
"""

from __future__ import annotations

import itertools
from typing import Any, cast

import numpy as np
import torch
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]
"""An LSTM state ``(h, c)``, each ``(1, B, hidden_size)``."""


def reset_state(state: State, starts: torch.Tensor) -> State:
    """``state`` with the rows where ``starts`` (``(B,)`` bool) is true set to zero."""
    keep = (~starts.bool()).to(state[0].dtype).view(1, -1, 1)
    return state[0] * keep, state[1] * keep


class LSTMCore(nn.Module):
    """An LSTM of ``hidden_size`` units over ``in_features`` (one layer, time-major)."""

    def __init__(self, in_features: int, hidden_size: int = 128) -> None:
        super().__init__()
        if in_features < 1 or hidden_size < 1:
            raise ValueError(
                f"LSTMCore needs in_features >= 1 and hidden_size >= 1, got {in_features} and "
                f"{hidden_size}."
            )
        self.in_features, self.hidden_size = in_features, hidden_size
        self.lstm = nn.LSTM(in_features, hidden_size)

    @property
    def out_features(self) -> int:
        """Features per step of the output: ``hidden_size``."""
        return self.hidden_size

    def initial_state(self, batch: int, device: torch.device | str | None = None) -> State:
        """The zero state of ``batch`` envs (an episode's start)."""
        if device is None:
            device = next(self.lstm.parameters()).device
        zeros = torch.zeros(1, batch, self.hidden_size, device=device)
        return zeros, zeros.clone()

    def forward(
        self, x: torch.Tensor, state: State, starts: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        """Unroll over ``x`` ``(T, B, in_features)`` from ``state``; ``starts`` ``(T, B)`` bool
        marks the steps where an episode starts (the state is zeroed before them). Returns the
        outputs ``(T, B, hidden_size)`` and the state after the last step."""
        if x.device.type == "cpu" and x.dtype == torch.float32 and len(x):
            keep = None if starts is None else (~starts.bool()).to(x.dtype)
            w_ih, w_hh, b_ih, b_hh = self.weights()
            out, h, c = LSTMUnroll.apply(x, state[0], state[1], keep, w_ih, w_hh, b_ih, b_hh)
            return out, (h, c)
        if starts is None:
            out, (h, c) = self.lstm(x, state)
            return out, (h, c)
        starts = starts.bool()
        cuts = [0, *(t for t in starts.any(dim=1).nonzero().flatten().tolist() if t > 0), len(x)]
        outs = []
        for begin, end in itertools.pairwise(cuts):
            state = reset_state(state, starts[begin])
            out, state = self.lstm(x[begin:end], state)
            outs.append(out)
        return (outs[0] if len(outs) == 1 else torch.cat(outs)), state

    def step(
        self, x: torch.Tensor, state: State, starts: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        """One step for acting: ``x`` ``(B, in_features)``, ``starts`` ``(B,)`` bool (episodes
        that start at this step). Returns ``(B, hidden_size)`` and the next state."""
        if starts is not None:
            state = reset_state(state, starts)
        # One cell step on the LSTM's own weights: about 2.5x faster than lstm(x) for one step.
        h, c = torch.lstm_cell(x, (state[0][0], state[1][0]), *self.weights())
        return h, (h.unsqueeze(0), c.unsqueeze(0))

    def weights(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The LSTM's own parameters ``(w_ih, w_hh, b_ih, b_hh)``, gates in torch's order."""
        w_ih, w_hh, b_ih, b_hh = (
            cast(torch.Tensor, getattr(self.lstm, f"{name}_l0"))
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        return w_ih, w_hh, b_ih, b_hh

    def extra_repr(self) -> str:
        """Shown by ``print(module)``."""
        return f"in_features={self.in_features}, hidden_size={self.hidden_size}"


class LSTMUnroll(torch.autograd.Function):
    """``nn.LSTM``'s one layer over ``x`` ``(T, B, I)`` from ``(h0, c0)`` (each ``(1, B, H)``),
    the state multiplied by ``keep`` ``(T, B)`` (0 where an episode starts) before each step,
    with torch's weights (gates in its order: input, forget, cell, output). Returns the outputs
    ``(T, B, H)`` and the final ``h`` and ``c`` ``(1, B, H)``; its backward pass is
    backpropagation through time, written out (float32, CPU).

    Each step costs one matrix product and a few operations on ``(B, 4H)``: the gates are
    reordered to (input, forget, output, cell) and the sigmoid gates' weights halved, so that
    one ``tanh`` squashes all four (``sigmoid(x) = (tanh(x / 2) + 1) / 2``). What the backward
    pass needs of the gates is computed for all steps at once.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        h0: torch.Tensor,
        c0: torch.Tensor,
        keep: torch.Tensor | None,
        w_ih: torch.Tensor,
        w_hh: torch.Tensor,
        b_ih: torch.Tensor,
        b_hh: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        T, B, _ = x.shape
        H = w_hh.shape[1]
        order = np.r_[0 : 2 * H, 3 * H : 4 * H, 2 * H : 3 * H]  # i, f, o, g
        half = np.ones(4 * H, dtype=np.float32)
        half[: 3 * H] = 0.5
        xs = x.detach().contiguous().numpy()
        w_ih_t = np.ascontiguousarray(w_ih.detach().numpy()[order].T * half)
        w_hh_t = np.ascontiguousarray(w_hh.detach().numpy()[order].T * half)
        bias = (b_ih.detach().numpy() + b_hh.detach().numpy())[order] * half
        # every step's input part in one product, biases included: (T, B, 4H)
        gates = (xs.reshape(T * B, -1) @ w_ih_t).reshape(T, B, 4 * H)
        gates += bias
        ks = None if keep is None else keep.detach().contiguous().numpy()[:, :, None]
        resets = np.zeros(T, dtype=bool) if ks is None else (ks == 0).any(axis=(1, 2))
        hs = np.empty((T + 1, B, H), dtype=np.float32)  # hs[t + 1]: the output of step t
        cs = np.empty((T + 1, B, H), dtype=np.float32)
        tanh_c = np.empty((T, B, H), dtype=np.float32)
        hs[0], cs[0] = h0.detach().numpy()[0], c0.detach().numpy()[0]
        recurrent = np.empty((B, 4 * H), dtype=np.float32)
        for t in range(T):
            h, c = hs[t], cs[t]
            if resets[t]:
                assert ks is not None
                h, c = h * ks[t], c * ks[t]
            z = gates[t]
            z += np.matmul(h, w_hh_t, out=recurrent)
            np.tanh(z, out=z)
            sig = z[:, : 3 * H]
            sig += 1.0
            sig *= 0.5
            np.multiply(z[:, H : 2 * H], c, out=cs[t + 1])
            cs[t + 1] += z[:, :H] * z[:, 3 * H :]
            np.tanh(cs[t + 1], out=tanh_c[t])
            np.multiply(z[:, 2 * H : 3 * H], tanh_c[t], out=hs[t + 1])
        h_in, c_in = hs[:-1], cs[:-1]
        if resets.any():
            assert ks is not None
            h_in, c_in = h_in * ks, c_in * ks
        ctx.save_for_backward(w_ih, w_hh)
        ctx.arrays = (xs, ks, resets, gates, h_in, c_in, tanh_c)
        return (
            torch.from_numpy(hs[1:]),
            torch.from_numpy(hs[T][None].copy()),
            torch.from_numpy(cs[T][None].copy()),
        )

    @staticmethod
    def backward(
        ctx: Any, d_out: torch.Tensor, d_h: torch.Tensor, d_c: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        w_ih, w_hh = ctx.saved_tensors
        xs, ks, resets, gates, h_in, c_in, tanh_c = ctx.arrays
        ctx.arrays = None
        T, B, H = h_in.shape
        i, f, o, g = (gates[:, :, k * H : (k + 1) * H] for k in range(4))
        # what turns dc (dh for the output gate) into each gate's input gradient, every step,
        # in torch's gate order (i, f, g, o)
        grow = np.empty((T, B, 4, H), dtype=np.float32)
        np.multiply(g, i - i * i, out=grow[:, :, 0])
        np.multiply(c_in, f - f * f, out=grow[:, :, 1])
        np.multiply(i, 1.0 - g * g, out=grow[:, :, 2])
        np.multiply(tanh_c, o - o * o, out=grow[:, :, 3])
        to_c = o * (1.0 - tanh_c * tanh_c)  # dh's share of dc
        forget = f if ks is None else f * ks
        w_hh_n = w_hh.detach().numpy()
        dout = d_out.contiguous().numpy()
        dh = d_h.numpy()[0].copy()
        dc = d_c.numpy()[0].copy()
        dz_all = np.empty((T, B, 4, H), dtype=np.float32)
        for t in range(T - 1, -1, -1):
            dh += dout[t]
            dc += dh * to_c[t]
            dz = dz_all[t]
            np.multiply(grow[t], dc[:, None, :], out=dz)
            np.multiply(grow[t, :, 3], dh, out=dz[:, 3])
            dh = dz.reshape(B, 4 * H) @ w_hh_n
            dc *= forget[t]
            if resets[t]:
                dh *= ks[t]
        dz_flat = torch.from_numpy(dz_all.reshape(T * B, 4 * H))
        d_b = dz_flat.sum(dim=0)
        return (
            (dz_flat @ w_ih.detach()).view(xs.shape) if ctx.needs_input_grad[0] else None,
            torch.from_numpy(dh[None]) if ctx.needs_input_grad[1] else None,
            torch.from_numpy(dc[None]) if ctx.needs_input_grad[2] else None,
            None,
            dz_flat.T @ torch.from_numpy(xs.reshape(T * B, -1)),
            dz_flat.T @ torch.from_numpy(h_in.reshape(T * B, H)),
            d_b,
            d_b.clone(),
        )

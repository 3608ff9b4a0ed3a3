"""The recurrent core that gives an agent memory: an LSTM over the torso's features whose state
starts from zero where an episode starts.

DRQN and recurrent PPO/A2C put it between the observation torso renshu builds (MLP, CNN, Dict
inputs) and their heads. Sequences are time-major, ``(T, B, features)``, as :class:`torch.nn.LSTM`
takes them; a state is the pair ``(h, c)``, each ``(1, B, hidden_size)``.

Where an episode starts inside a sequence, the state of that env is zeroed before the step. The
unrolled pass runs the LSTM once per stretch of steps without a start (one call when no episode
starts inside the sequence): no Python loop over batch items or time steps.
"""

from __future__ import annotations

import itertools
from typing import cast

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
        w_ih, w_hh, b_ih, b_hh = (
            cast(torch.Tensor, getattr(self.lstm, f"{name}_l0"))
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        h, c = torch.lstm_cell(x, (state[0][0], state[1][0]), w_ih, w_hh, b_ih, b_hh)
        return h, (h.unsqueeze(0), c.unsqueeze(0))

    def extra_repr(self) -> str:
        """Shown by ``print(module)``."""
        return f"in_features={self.in_features}, hidden_size={self.hidden_size}"

from __future__ import annotations

import pytest
import torch

from renshu.recurrent import LSTMCore, reset_state


def _stepwise(core: LSTMCore, x: torch.Tensor, state, starts: torch.Tensor) -> torch.Tensor:
    """The oracle: one step at a time, the state zeroed by hand where an episode starts."""
    h, c = state
    outs = []
    for t in range(len(x)):
        keep = (~starts[t]).float().view(1, -1, 1)
        h, c = h * keep, c * keep
        out, (h, c) = core.lstm(x[t : t + 1], (h, c))
        outs.append(out)
    return torch.cat(outs)


@pytest.mark.parametrize("pattern", ["none", "first", "middle", "several", "every"])
def test_unrolled_pass_equals_the_stepwise_oracle_with_resets(pattern: str) -> None:
    torch.manual_seed(0)
    core = LSTMCore(5, 7)
    T, B = 9, 4
    x = torch.randn(T, B, 5)
    state = (torch.randn(1, B, 7), torch.randn(1, B, 7))
    starts = torch.zeros(T, B, dtype=torch.bool)
    if pattern == "first":
        starts[0, 1] = True
    elif pattern == "middle":
        starts[4, 2] = True
    elif pattern == "several":
        starts[0, 0] = starts[3, 1] = starts[3, 3] = starts[7, 0] = True
    elif pattern == "every":
        starts[:] = True
    out, (h, _c) = core(x, state, starts)
    expected = _stepwise(core, x, state, starts)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(h[0], expected[-1])


def test_a_start_zeroes_only_that_envs_state_and_acting_steps_match_the_unrolled_pass() -> None:
    torch.manual_seed(1)
    core = LSTMCore(3, 4)
    x = torch.randn(6, 2, 3)
    starts = torch.zeros(6, 2, dtype=torch.bool)
    starts[0] = True
    starts[3, 1] = True
    unrolled, _ = core(x, core.initial_state(2), starts)
    state = (torch.ones(1, 2, 4), torch.ones(1, 2, 4))  # whatever came before is forgotten
    for t in range(6):
        out, state = core.step(x[t], state, starts[t])
        torch.testing.assert_close(out, unrolled[t])
    h, c = reset_state((torch.ones(1, 2, 4), torch.ones(1, 2, 4)), torch.tensor([False, True]))
    assert h[0, 0].eq(1).all() and h[0, 1].eq(0).all() and c[0, 1].eq(0).all()


def test_gradients_flow_through_the_unrolled_pass() -> None:
    core = LSTMCore(2, 3)
    x = torch.randn(5, 2, 2, requires_grad=True)
    starts = torch.zeros(5, 2, dtype=torch.bool)
    starts[2, 0] = True
    out, _ = core(x, core.initial_state(2), starts)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert core.lstm.weight_ih_l0.grad is not None
    # the step before a start cannot influence the steps after it, in that env
    assert x.grad[:2, 0].abs().sum() > 0


def test_sizes_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="hidden_size >= 1"):
        LSTMCore(3, 0)

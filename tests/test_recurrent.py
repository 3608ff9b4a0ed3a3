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


PATTERNS = ["none", "first", "middle", "several", "every"]


def _starts(pattern: str, T: int, B: int) -> torch.Tensor:
    """Episode starts ``(T, B)``: none, one at the first step, one in the middle, several (two
    in one step), or at every step."""
    starts = torch.zeros(T, B, dtype=torch.bool)
    if pattern == "first":
        starts[0, 1] = True
    elif pattern == "middle":
        starts[T // 2, 2] = True
    elif pattern == "several":
        starts[0, 0] = starts[3, 1] = starts[3, B - 1] = starts[T - 2, 0] = True
    elif pattern == "every":
        starts[:] = True
    return starts


@pytest.mark.parametrize("pattern", PATTERNS)
def test_unrolled_pass_equals_the_stepwise_oracle_with_resets(pattern: str) -> None:
    torch.manual_seed(0)
    core = LSTMCore(5, 7)
    T, B = 9, 4
    x = torch.randn(T, B, 5)
    state = (torch.randn(1, B, 7), torch.randn(1, B, 7))
    starts = _starts(pattern, T, B)
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


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_written_out_backward_pass_equals_autograd_through_torchs_lstm(pattern: str) -> None:
    """Every gradient (inputs, initial state, the four weights) of a loss on the outputs and on
    the final state, against autograd through ``nn.LSTM`` step by step (the oracle above)."""
    torch.manual_seed(2)
    core = LSTMCore(6, 8)
    T, B = 11, 5
    starts = _starts(pattern, T, B)
    x = torch.randn(T, B, 6, requires_grad=True)
    h0 = torch.randn(1, B, 8, requires_grad=True)
    c0 = torch.randn(1, B, 8, requires_grad=True)
    weights = list(core.parameters())
    pull = torch.randn(T, B, 8), torch.randn(1, B, 8), torch.randn(1, B, 8)

    def gradients(out: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> list[torch.Tensor]:
        loss = (out * pull[0]).sum() + (h * pull[1]).sum() + (c * pull[2]).sum()
        return list(torch.autograd.grad(loss, [x, h0, c0, *weights]))

    out, (h, c) = core(x, (h0, c0), starts)
    got = gradients(out, h, c)
    outs, state = [], (h0, c0)
    for t in range(T):
        state = reset_state(state, starts[t])
        step, state = core.lstm(x[t : t + 1], state)
        outs.append(step)
    expected = gradients(torch.cat(outs), *state)
    names = ["x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"]
    for name, a, b in zip(names, got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_sizes_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="hidden_size >= 1"):
        LSTMCore(3, 0)

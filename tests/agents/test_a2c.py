"""A2C: its NumPy update takes the same step as autograd."""

from __future__ import annotations

import pytest
import torch

from renshu.agents.a2c import A2C


@pytest.mark.parametrize("env", ["CartPole-v1", "Pendulum-v1"])
def test_a2c_numpy_update_takes_the_torch_step(env: str) -> None:
    agent = A2C(env, seed=0, num_envs=4, n_steps=5, ent_coef=0.01, normalize_advantage=True)
    assert agent._fast is not None
    results: dict[str, torch.Tensor] = {}

    def both(progress: float) -> None:
        start = results["start"] = agent._flat.data.clone()
        fast, agent._fast = agent._fast, None
        A2C._update(agent, progress)  # autograd
        results["torch"] = agent._flat.data.clone()
        agent._flat.data.copy_(start)
        agent.optimizer.state.clear()  # both from RMSprop's first step
        agent._fast = fast
        A2C._update(agent, progress)  # NumPy loss and gradient
        results["numpy"] = agent._flat.data.clone()

    agent._update = both  # type: ignore[method-assign]
    agent.fit(20, progress=False)
    assert not torch.equal(results["numpy"], results["start"])  # a step was taken
    # (RMSprop's first step divides by |gradient|: tiny gradients differ in rounding)
    torch.testing.assert_close(results["numpy"], results["torch"], rtol=1e-4, atol=1e-5)

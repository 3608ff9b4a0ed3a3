"""The whole training state of an agent, to and from a checkpoint, for any algorithm.

:func:`save_agent` writes what :mod:`renshu.checkpoint` stores: ``config.json`` (algorithm,
options, spaces, env), ``weights.safetensors`` (every network the agent names in
``_networks()``), ``optimizer.safetensors`` and ``state.json`` (counters, RNG, the optimizer's
scalars and the algorithm's own counters) and, when asked, the algorithm's replay or rollout
arrays. :func:`load_agent` rebuilds the agent from the saved options and checks every piece
against it (names, shapes, dtypes, finite values, ranges) before anything is loaded, naming the
file and field that is wrong.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from renshu import checkpoint
from renshu.config import build, is_custom, to_plain
from renshu.errors import ConfigError, RenshuError
from renshu.make import find_saved_env
from renshu.nets import NORM_CHUNK, NORM_EPS, RunningNorm
from renshu.optim import make_optimizer

if TYPE_CHECKING:
    from renshu.train.agent import Agent

COUNTERS = ("num_steps", "num_episodes", "num_updates", "iteration")
"""The counters every agent saves in state.json (the algorithm may add its own)."""

OPTIONS_NOT_IN_FORMAT: dict[int, frozenset[str]] = {
    # renshu 0.1.0 (format 1, DQN only) did not save these options; they take their documented
    # defaults: per_beta_steps None (beta anneals over each fit call, as in 0.1.0) and
    # normalize_obs True (from_bounds_scaling turns 0.1.0's bounds scaling into running
    # statistics that compute the same inputs).
    1: frozenset({"per_beta_steps", "normalize_obs", "eps_fraction", "value_rescale"}),
    # Format 2 saved every option it had; format 3 added DQN's eps_fraction (used only when
    # eps_anneal_steps is None, which format 2 never saved) and the recurrent PPO/A2C options
    # (recurrent False: a format-2 agent has no memory).
    2: frozenset({"eps_fraction", "recurrent", "lstm_size", "seq_len", "value_rescale"}),
    # Format 4 added DRQN's value_rescale: an older DRQN learned plain Q-values and goes on so
    # (the algorithm's ``former_defaults``, not the new default).
    3: frozenset({"value_rescale"}),
}
"""Options a saved config.json of an older format may lack: they take their defaults. Every
option of the format an agent was saved in must be there, and a missing one is refused (a
missing ``seed`` would otherwise become a fresh random one). Where an algorithm's
``former_defaults`` names one, it takes that value instead of the default."""

_GROUP_RANGES: dict[str, tuple[float, float, str]] = {
    "lr": (0.0, math.inf, ">= 0 (a negative rate climbs the loss)"),
    "eps": (0.0, math.inf, ">= 0"),
    "weight_decay": (0.0, math.inf, ">= 0"),
    "alpha": (0.0, 1.0, "in [0, 1]"),
    "momentum": (0.0, 1.0, "in [0, 1]"),
    "betas": (0.0, 1.0, "two numbers in [0, 1)"),
}
"""Ranges of the optimizer hyperparameters saved in state.json (torch's own limits; decay rates
of running averages at most 1)."""
_NON_NEGATIVE_STATE = ("exp_avg_sq", "max_exp_avg_sq", "square_avg")
"""Optimizer state tensors that are running averages of squares (never negative)."""


def save_agent(agent: Agent, path: str | Path, *, replay: bool, overwrite: bool) -> Path:
    """Write ``agent`` to ``path`` (see :meth:`renshu.train.agent.Agent.save`)."""
    cfg = agent.config
    config = {
        "algo": agent.algo,
        "config": to_plain(cfg),
        "custom": [f.name for f in fields(cfg) if is_custom(getattr(cfg, f.name))],
        "observation_space": checkpoint.space_to_json(agent.observation_space),
        "action_space": checkpoint.space_to_json(agent.action_space),
        "env": agent.env_spec if agent.env_spec is not None else agent._env_ref,
        "env_name": agent.env_name,
    }
    opt = agent.optimizer.state_dict()
    opt_tensors = {
        f"{i}.{k}": v
        for i, s in opt["state"].items()
        for k, v in s.items()
        if isinstance(v, torch.Tensor)
    }
    counters = agent.counters
    state = {
        **{name: getattr(counters, name) for name in COUNTERS},
        **agent._extra_state(),
        "rng": agent.rng.bit_generator.state,
        "optimizer": {
            "param_groups": opt["param_groups"],
            "scalars": {
                f"{i}.{k}": v
                for i, s in opt["state"].items()
                for k, v in s.items()
                if not isinstance(v, torch.Tensor)
            },
        },
    }
    weights = {
        f"{prefix}.{k}": v
        for prefix, module in agent._networks().items()
        for k, v in module.state_dict().items()
    }
    return checkpoint.save(
        path,
        config=config,
        state=state,
        tensors={"weights": weights, "optimizer": opt_tensors},
        replay=agent._replay_state() if replay else None,
        overwrite=overwrite,
    )


def load_agent(
    cls: type[Agent],
    ckpt: checkpoint.Checkpoint,
    env: Any = None,
    *,
    trust_env: bool = False,
    **overrides: Any,
) -> Any:
    """Rebuild an agent of class ``cls`` from :func:`renshu.checkpoint.read` output.

    A saved env that is a file or module reference is built only with ``trust_env``.
    """
    file = ckpt.path / "config.json"
    saved = {**cls.former_defaults, **ckpt.config["config"]}  # an older one trains as saved
    for name in ckpt.config.get("custom", []):
        if name == "net" and name not in overrides:
            raise checkpoint.CheckpointError(
                f"{str(ckpt.path)!r} was saved with a custom network module; pass "
                "net=<the same architecture> to renshu.load to rebuild it."
            )
        saved.pop(name)  # recorded by name only: the default, or the object given now
    check_saved_options(cls.config_class, ckpt.config, overrides, file)
    if "device" not in overrides:
        saved["device"] = loadable_device(saved.get("device", "auto"), file)
    check_saved_config(
        cls.config_class, {k: v for k, v in saved.items() if k not in overrides}, file
    )
    saved.update(overrides)
    ref = ckpt.config.get("env")
    untrusted = None
    if env is None and ref is not None:
        if trust_env or checkpoint.env_is_safe(ref):
            env = find_saved_env(ref, ckpt.path)  # a relative file path: from any folder
        else:
            untrusted = ref
    spaces_ = (
        checkpoint.space_from_json(ckpt.config["observation_space"]),
        checkpoint.space_from_json(ckpt.config["action_space"]),
    )
    build_agent: Any = cls  # an algorithm's class: (env, **options)
    try:
        agent = (
            build_agent(env, _spaces=spaces_, **saved) if env is None else build_agent(env, **saved)
        )
    except Exception as error:  # name the saved option that breaks the build, if one does
        if isinstance(error, RenshuError) and not isinstance(error, ConfigError):
            raise  # the env given or named failed to build: its own message says why
        for name in sorted(set(saved) - set(overrides)):
            try:
                build_agent(None, _spaces=spaces_, **{name: saved[name]})
            except Exception:
                raise checkpoint.CheckpointError(
                    f"{str(file)!r} is damaged or was edited: config.{name} is invalid "
                    f"({type(error).__name__}: {error}). Load another checkpoint."
                ) from None
        if overrides:
            raise  # the options given to load are the likelier fault
        raise checkpoint.CheckpointError(
            f"{str(file)!r} is damaged or was edited: its config does not build an agent "
            f"({type(error).__name__}: {error}). Load another checkpoint."
        ) from None
    if env is not None and (
        agent.observation_space.shape != spaces_[0].shape or agent.action_space != spaces_[1]
    ):
        raise checkpoint.CheckpointError(
            f"The env's spaces ({agent.observation_space}, {agent.action_space}) do not "
            f"match the saved agent's ({spaces_[0]}, {spaces_[1]}) in {str(ckpt.path)!r}."
        )
    if env is None:
        agent.env_name = ckpt.config.get("env_name") or ref
        agent._env_ref = untrusted
    load_state(agent, ckpt)
    return agent


def load_state(agent: Agent, ckpt: checkpoint.Checkpoint) -> None:
    """Restore networks, optimizer, counters, RNG and replay into ``agent``, checking each
    against it (names, shapes, dtypes, finite values, ranges); CheckpointError names the file."""
    path = ckpt.path
    networks = agent._networks()
    expected = {
        f"{prefix}.{k}": v
        for prefix, module in networks.items()
        for k, v in module.state_dict().items()
    }
    weights = ckpt.tensors["weights"]
    if ckpt.config.get("format_version") == 1:  # saved by renshu 0.1.0
        weights = from_bounds_scaling(weights, expected)
    checkpoint.check_tensors(weights, expected, path / "weights.safetensors")
    check_statistics(networks, weights, path / "weights.safetensors")
    for prefix, module in networks.items():
        start = f"{prefix}."
        module.load_state_dict(
            {k[len(start) :]: v for k, v in weights.items() if k.startswith(start)}
        )
    state = ckpt.state
    agent._load_extra_state(state, ckpt)
    agent.optimizer.load_state_dict(_checked_optimizer_state(agent, ckpt))
    for name in COUNTERS:
        setattr(agent.counters, name, state[name])
    agent.rng.bit_generator.state = state["rng"]
    if ckpt.replay is not None:
        agent._load_replay(ckpt.replay, path / "replay.npz")


def check_saved_options(
    config_class: type, config: Mapping[str, Any], overrides: Mapping[str, Any], file: Path
) -> None:
    """Every option of ``config_class`` is in the saved ``config`` (config.json), given in
    ``overrides``, or one that the file's format did not save (:data:`OPTIONS_NOT_IN_FORMAT`)."""
    version = config.get("format_version")
    optional = OPTIONS_NOT_IN_FORMAT.get(version, frozenset()) if isinstance(version, int) else ()
    present = {*config["config"], *config.get("custom", []), *overrides, *optional}
    missing = [f.name for f in fields(config_class) if f.name not in present]
    if missing:
        raise checkpoint.CheckpointError(
            f"{str(file)!r} is damaged or was edited: config.{missing[0]} is missing"
            + (f" (and {', '.join(missing[1:])})" if missing[1:] else "")
            + f". Every option is saved with the agent (format {version}); a missing one would "
            "silently take its default. Restore it, pass it to renshu.load, or load another "
            "checkpoint."
        )


def check_statistics(
    networks: Mapping[str, torch.nn.Module], weights: Mapping[str, torch.Tensor], file: Path
) -> None:
    """The running statistics of every :class:`~renshu.nets.RunningNorm` in ``networks``
    (observation normalization, reward scaling) are in range: variances and counts >= 0, the
    pending rows within the buffer."""
    for prefix, module in networks.items():
        for name, sub in module.named_modules():
            if not isinstance(sub, RunningNorm):
                continue
            base = f"{prefix}.{name}." if name else f"{prefix}."
            var, count = weights[f"{base}var"], weights[f"{base}count"]
            pending = weights[f"{base}pending_count"]
            for key, ok, expected, found in (
                (f"{base}var", bool((var >= 0).all()), ">= 0", float(var.min())),
                (
                    f"{base}count",
                    0 <= float(count) <= 2**53,
                    f"in [0, {2**53}]",
                    float(count),
                ),
                (
                    f"{base}pending_count",
                    0 <= int(pending) <= NORM_CHUNK,
                    f"in [0, {NORM_CHUNK}]",
                    int(pending),
                ),
            ):
                if not ok:
                    raise checkpoint.CheckpointError(
                        f"{str(file)!r} is damaged or was edited: tensor {key!r} must be "
                        f"{expected}, found {found}. Load another checkpoint."
                    )


def check_saved_config(config_class: type, saved: dict[str, Any], file: Path) -> None:
    """Validate the saved options alone, so a bad one is named as a fault of the file."""
    try:
        build(config_class, saved)
        return
    except Exception as error:  # ConfigError, or a TypeError from a value of the wrong type
        problem = error
    field = "config"
    for name, value in saved.items():
        try:
            build(config_class, {name: value})
        except Exception as error:
            field, problem = f"config.{name}", error
            break
    text = str(problem) if isinstance(problem, ConfigError) else f"{type(problem).__name__}"
    raise checkpoint.CheckpointError(
        f"{str(file)!r} is damaged or was edited: {field} is invalid ({text}). Load another "
        "checkpoint, or save the agent again."
    )


def loadable_device(device: Any, file: Path) -> Any:
    """The saved device, or "cpu" when it is not available here (a CUDA-trained agent loads
    on a CPU laptop); an unknown device name is refused naming the file."""
    if not isinstance(device, str) or device == "auto":
        return device  # the config's validation names a wrong type
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda", "mps"):
        raise checkpoint.CheckpointError(
            f"{str(file)!r} is damaged or was edited: config.device must be a device such as "
            f'"auto", "cpu" or "cuda", found {device!r}. Pass device="cpu" to renshu.load.'
        )
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available()
        and (parsed.index is None or parsed.index < torch.cuda.device_count()),
        "mps": torch.backends.mps.is_available(),
    }[parsed.type]
    if available:
        return device
    warnings.warn(
        f"{str(file.parent)!r} was saved on device {device!r}, which is not available here; "
        "it is loaded on the CPU.",
        stacklevel=5,
    )
    return "cpu"


def _checked_optimizer_state(agent: Agent, ckpt: checkpoint.Checkpoint) -> dict[str, Any]:
    """The saved optimizer state, checked against ``agent``'s optimizer."""
    tensor_file = ckpt.path / "optimizer.safetensors"
    state_file = ckpt.path / "state.json"
    optimizer = agent.optimizer
    own_groups = optimizer.state_dict()["param_groups"]
    groups = ckpt.state["optimizer"]["param_groups"]
    same = len(groups) == len(own_groups) and all(
        g["params"] == o["params"] and set(g) == set(o) and _same_kinds(g, o)
        for g, o in zip(groups, own_groups, strict=False)
    )
    if not same:
        raise checkpoint.CheckpointError(
            f"{str(state_file)!r} is damaged or was edited: optimizer.param_groups do not "
            f"match this agent's optimizer ({len(own_groups)} group(s) with the keys "
            f"{sorted(own_groups[0])}). Load another checkpoint."
        )
    for number, group in enumerate(groups):
        for key, (low, high, expected) in _GROUP_RANGES.items():
            if key in group and not _in_range(group[key], low, high, open_high=key == "betas"):
                raise checkpoint.CheckpointError(
                    f"{str(state_file)!r} is damaged or was edited: "
                    f"optimizer.param_groups[{number}].{key} must be {expected}, found "
                    f"{group[key]!r}. Load another checkpoint."
                )
    params = [p for group in optimizer.param_groups for p in group["params"]]
    opt_state: dict[int, dict[str, Any]] = {}
    entries = [
        *((k, v, tensor_file) for k, v in ckpt.tensors["optimizer"].items()),
        *((k, v, state_file) for k, v in ckpt.state["optimizer"]["scalars"].items()),
    ]
    for key, value, file in entries:
        index, _, name = key.partition(".")
        if not (index.isdigit() and int(index) < len(params) and name):
            raise checkpoint.CheckpointError(
                f"{str(file)!r}: optimizer entry {key!r} names no parameter of this agent "
                f"(expected '<index>.<name>' with index < {len(params)}). Load another "
                "checkpoint."
            )
        param = params[int(index)]
        if isinstance(value, torch.Tensor):
            checkpoint.check_finite(value, file, key)
            if name != "step" and (value.shape != param.shape or value.dtype != param.dtype):
                raise checkpoint.CheckpointError(
                    f"{str(file)!r}: optimizer tensor {key!r} is {value.dtype}"
                    f"{tuple(value.shape)}, expected {param.dtype}{tuple(param.shape)}. "
                    "Load another checkpoint."
                )
            value = value.to(agent.device)
        _check_optimizer_value(key, name, value, file)
        opt_state.setdefault(int(index), {})[name] = value
    keys = _optimizer_state_keys(agent)
    for index, entry in opt_state.items():
        if keys is not None and set(entry) != keys:
            raise checkpoint.CheckpointError(
                f"{str(tensor_file)!r}: the optimizer state of parameter {index} holds "
                f"{sorted(entry)}, expected {sorted(keys)} for optimizer "
                f"{agent.config.optimizer!r}. Load another checkpoint."
            )
    updates = ckpt.state["num_updates"]
    if keys is not None and updates > 0 and len(opt_state) != len(params):
        raise checkpoint.CheckpointError(
            f"{str(tensor_file)!r} is damaged or was edited: it holds optimizer state for "
            f"{len(opt_state)} of {len(params)} parameter(s), but the agent made {updates:,} "
            f"updates with {agent.config.optimizer!r}, which keeps state for every parameter "
            "(an empty file would silently restart the optimizer). Load another checkpoint."
        )
    return {"state": opt_state, "param_groups": groups}


def _check_optimizer_value(key: str, name: str, value: Any, file: Path) -> None:
    """``step`` is a whole number in [0, 2**53]; running averages of squares are >= 0."""
    if name == "step":
        number = float(value) if not isinstance(value, torch.Tensor) or value.numel() == 1 else -1
        ok = 0 <= number <= 2**53 and number == int(number)
        expected = f"a whole number in [0, {2**53}]"
    elif name in _NON_NEGATIVE_STATE and isinstance(value, torch.Tensor):
        ok = bool((value >= 0).all())
        number = float(value.min()) if value.numel() else 0.0
        expected = ">= 0 (a running average of squares)"
    else:
        return
    if not ok:
        raise checkpoint.CheckpointError(
            f"{str(file)!r} is damaged or was edited: optimizer entry {key!r} must be {expected}, "
            f"found {number}. Load another checkpoint."
        )


def _in_range(value: Any, low: float, high: float, *, open_high: bool) -> bool:
    """``value`` (or each of a list of them) is a number in [low, high] ([low, high) with
    ``open_high``)."""
    items = value if isinstance(value, list | tuple) else [value]
    return all(
        not isinstance(v, bool)
        and isinstance(v, int | float)
        and low <= v <= high
        and not (open_high and v == high)
        for v in items
    )


def _optimizer_state_keys(agent: Agent) -> set[str] | None:
    """The state names a named optimizer keeps per parameter (None for a custom one)."""
    name = getattr(agent.config, "optimizer", None)  # an algorithm may have no such option
    if not isinstance(name, str):
        return None
    params = [p for group in agent.optimizer.param_groups for p in group["params"]]
    scratch = [torch.nn.Parameter(torch.zeros_like(p)) for p in params[:1]]
    optimizer = make_optimizer(name, scratch, 1e-3)
    for p in scratch:
        p.grad = torch.zeros_like(p)
    optimizer.step()
    return set(optimizer.state[scratch[0]]) if scratch else None


def _same_kinds(saved: Mapping[str, Any], own: Mapping[str, Any]) -> bool:
    """Saved optimizer hyperparameters have the JSON kinds of this optimizer's own values."""

    def kind(value: Any) -> str:
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return type(value).__name__
        if isinstance(value, int | float):
            return "number" if math.isfinite(value) else "non-finite"
        if isinstance(value, list | tuple):
            return "list:" + ",".join(kind(v) for v in value)
        if isinstance(value, torch.Tensor):
            return "number"
        return "other"

    return all(kind(saved[k]) == kind(own[k]) for k in own if k != "params")


def from_bounds_scaling(
    weights: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Weights of an agent saved by renshu 0.1.0, which scaled float observations by their
    declared bounds (``preprocess.centre``, ``preprocess.inv_half``), for today's running
    normalization: mean = centre and std = 1 / inv_half compute the same inputs (unbounded
    dimensions: mean 0, std 1), with a count so large that further training barely moves them.
    Anything that does not fit is left as it is, for the weights check to name."""
    out = dict(weights)
    prefixes = {key.split(".", 1)[0] + "." for key in expected}
    for prefix in sorted(prefixes):
        norm = f"{prefix}preprocess.norm."
        if f"{norm}mean" not in expected or f"{norm}mean" in out:
            continue
        shape = expected[f"{norm}mean"].shape
        centre = out.pop(f"{prefix}preprocess.centre", torch.zeros(shape)).double()
        inv_half = out.pop(f"{prefix}preprocess.inv_half", torch.ones(shape)).double()
        if centre.shape != shape or inv_half.shape != shape:
            return dict(weights)
        out[f"{norm}mean"] = centre
        out[f"{norm}var"] = (1.0 / inv_half**2 - NORM_EPS).clamp_min(0.0)
        out[f"{norm}count"] = torch.tensor(1e12, dtype=torch.float64)
        out[f"{norm}pending"] = torch.zeros_like(expected[f"{norm}pending"])
        out[f"{norm}pending_count"] = torch.zeros_like(expected[f"{norm}pending_count"])
    return out

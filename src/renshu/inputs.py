"""Observation spaces beyond one Box: Discrete, Dict and Tuple observations as one flat array.

A grid world's first observation space is often ``Discrete(16)`` (FrozenLake), and an env with
several sensors returns a ``Dict`` ("multiple inputs"). :class:`ObsEncoder` lays such an
observation out as one flat vector: each leaf of the space gets a slice (a Discrete one element,
its index; a Box its values), in one storage dtype -- uint8 when every leaf fits (uint8 images,
Discrete with at most 256 values, MultiBinary), float32 otherwise. The replay buffer stores that
vector (each frame once, as for any Box), and the network (:func:`renshu.nets.build_q_network`
with ``inputs=``) reads the slices back: a one-hot for a Discrete leaf, a CNN for an image leaf,
the values (normalized) for the rest, concatenated before the hidden layers.
:class:`EncodedVectorEnv` returns a vector env's observations so encoded.

Example:
    >>> from gymnasium import spaces
    >>> enc = ObsEncoder(spaces.Dict({"pos": spaces.Box(-1, 1, (2,)), "goal": spaces.Discrete(3)}))
    >>> [(p.key, p.kind, p.offset, p.size) for p in enc.parts]
    [('goal', 'discrete', 0, 1), ('pos', 'float', 1, 2)]
    >>> enc.encode({"pos": [0.5, -0.5], "goal": 2})
    array([ 2. ,  0.5, -0.5], dtype=float32)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv

from renshu.errors import ConfigError
from renshu.nets import is_image

__all__ = ["EncodedVectorEnv", "InputPart", "ObsEncoder", "needs_encoder"]

MAX_ONE_HOT = 65_536
"""Largest Discrete leaf one-hot encoded inside the network."""


@dataclass(frozen=True)
class InputPart:
    """One leaf of an observation space and its slice of the flat vector."""

    key: str
    """Path of the leaf: Dict keys and Tuple positions joined by dots ("" for the space itself)."""
    kind: str
    """"float" (normalized values), "uint8" (scaled to [0, 1]), "image" (a uint8 frame read by a
    CNN), "binary" (0/1 values) or "discrete" (one-hot)."""
    shape: tuple[int, ...]
    """Shape of the leaf in one observation (``()`` for Discrete)."""
    offset: int
    """First position in the flat vector."""
    size: int
    """Positions it takes (1 for Discrete)."""
    n: int = 0
    """Discrete: number of values."""
    start: int = 0
    """Discrete: the smallest value (stored as ``value - start``)."""


def needs_encoder(space: gymnasium.Space[Any]) -> bool:
    """Whether observations of ``space`` go through an :class:`ObsEncoder` (anything but a Box)."""
    return not isinstance(space, spaces.Box)


class ObsEncoder:
    """Flatten observations of a Discrete, MultiBinary, Dict or Tuple space (nested, with Box
    leaves) into one vector; :attr:`space` is the Box of those vectors.

    Raises:
        ConfigError: a leaf of another kind (MultiDiscrete, Text, Graph, ...).
    """

    def __init__(self, space: gymnasium.Space[Any]) -> None:
        self.observation_space = space
        self.parts: list[InputPart] = []
        self._offset = 0
        self._walk(space, "", ())
        self.paths = [self._path(p.key) for p in self.parts]
        small = all(p.kind in ("uint8", "image", "binary") or 0 < p.n <= 256 for p in self.parts)
        self.dtype = np.dtype(np.uint8 if small else np.float32)
        size = self._offset
        self.space: spaces.Box
        if self.dtype == np.uint8:
            self.space = spaces.Box(0, 255, (size,), np.uint8)
        else:
            self.space = spaces.Box(-np.inf, np.inf, (size,), np.float32)

    def _path(self, key: str) -> tuple[str, ...]:
        return tuple(key.split(".")) if key else ()

    def _walk(self, space: gymnasium.Space[Any], key: str, path: tuple[Any, ...]) -> None:
        def join(name: Any) -> str:
            return f"{key}.{name}" if key else str(name)

        if isinstance(space, spaces.Dict):
            for name, sub in space.spaces.items():
                if "." in str(name):
                    raise ConfigError(
                        f"Dict observation keys must not contain '.', got {name!r}; rename it."
                    )
                self._walk(sub, join(name), (*path, name))
            return
        if isinstance(space, spaces.Tuple):
            for i, sub in enumerate(space.spaces):
                self._walk(sub, join(i), (*path, i))
            return
        if isinstance(space, spaces.Discrete):
            n = int(space.n)
            if n > MAX_ONE_HOT:
                raise ConfigError(
                    f"observation {key or 'space'} is Discrete({n}); DQN one-hot encodes "
                    f"Discrete observations of at most {MAX_ONE_HOT:,} values. Give the env a "
                    "Box observation (features of the state) instead."
                )
            part = InputPart(key, "discrete", (), self._offset, 1, n, int(space.start))
        elif isinstance(space, spaces.MultiBinary):
            shape = tuple(int(d) for d in np.atleast_1d(space.n))
            part = InputPart(key, "binary", shape, self._offset, int(np.prod(shape)))
        elif isinstance(space, spaces.Box):
            shape = tuple(space.shape)
            size = int(np.prod(shape))
            if space.dtype == np.uint8:
                kind = "image" if is_image(shape, space.dtype) else "uint8"
            else:
                kind = "float"
            part = InputPart(key, kind, shape, self._offset, size)
        else:
            raise ConfigError(
                f"observation {key or 'space'} is a {type(space).__name__} space; DQN takes "
                "Box, Discrete, MultiBinary, and Dict or Tuple spaces of those. Wrap the env to "
                "turn it into one of them."
            )
        self.parts.append(part)
        self._offset += part.size

    def _leaf(self, obs: Any, path: tuple[str, ...]) -> Any:
        for name in path:
            obs = obs[int(name)] if isinstance(obs, tuple | list) else obs[name]
        return obs

    def encode(self, obs: Any) -> np.ndarray:
        """One observation of the space -> the flat vector ``(size,)``."""
        return self.encode_batch(_batch_of_one(obs), 1)[0]

    def encode_batch(self, obs: Any, n: int) -> np.ndarray:
        """A batch of ``n`` observations as a vector env returns them (a dict of arrays with a
        leading axis ``n`` for a Dict space, a tuple for a Tuple, an array for a Discrete) ->
        ``(n, size)``."""
        out = np.empty((n, self._offset), self.dtype)
        try:
            for part, path in zip(self.parts, self.paths, strict=True):
                value = np.asarray(self._leaf(obs, path))
                if part.kind == "discrete":
                    out[:, part.offset] = value.reshape(n) - part.start
                else:
                    out[:, part.offset : part.offset + part.size] = value.reshape(n, part.size)
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise ConfigError(
                f"an observation does not match the observation space "
                f"{self.observation_space}: {type(error).__name__}: {error}"
            ) from None
        return out


def _batch_of_one(obs: Any) -> Any:
    """Add a leading axis of 1 to every leaf of one observation."""
    if isinstance(obs, dict):
        return {k: _batch_of_one(v) for k, v in obs.items()}
    if isinstance(obs, tuple | list):
        return tuple(_batch_of_one(v) for v in obs)
    return np.asarray(obs)[None]


def _row(value: Any, e: int) -> Any:
    """Environment ``e``'s entry of a batched value (dict of arrays, tuple, array)."""
    if isinstance(value, dict):
        return {k: _row(v, e) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, tuple):
        return tuple(_row(v, e) for v in value)
    return value[e]


class EncodedVectorEnv(VectorEnv):
    """A vector env whose observations (and ``info["final_obs"]``) come encoded by ``encoder``:
    ``(num_envs, size)`` arrays of :attr:`ObsEncoder.space`."""

    def __init__(self, env: VectorEnv, encoder: ObsEncoder) -> None:
        self.env, self.encoder = env, encoder
        self.num_envs = env.num_envs
        self.single_observation_space = encoder.space
        self.single_action_space = env.single_action_space
        self.observation_space = gymnasium.vector.utils.batch_space(encoder.space, env.num_envs)
        self.action_space = env.action_space
        self.metadata = env.metadata
        self.render_mode = getattr(env, "render_mode", None)
        self.spec = getattr(env, "spec", None)
        self.closed = False

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the env; observations encoded."""
        obs, info = self.env.reset(**kwargs)
        return self.encoder.encode_batch(obs, self.num_envs), info

    def step(self, actions: Any) -> tuple[np.ndarray, Any, Any, Any, dict[str, Any]]:
        """Step the env; observations (and the final ones in the info) encoded."""
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        if "final_obs" in info:
            final = np.zeros((self.num_envs, self.encoder.space.shape[0]), self.encoder.dtype)
            mask = info.get("_final_obs", np.ones(self.num_envs, bool))
            for e in np.flatnonzero(mask):
                final[e] = self.encoder.encode(_row(info["final_obs"], int(e)))
            info = {**info, "final_obs": final}
        return self.encoder.encode_batch(obs, self.num_envs), rewards, terminated, truncated, info

    def render(self) -> Any:
        """The env's render."""
        return self.env.render()

    def close_extras(self, **kwargs: Any) -> None:
        """Close the env."""
        self.env.close()


def observation_problems(space: Any, algorithm: str) -> list[tuple[str, str, str]]:
    """Why ``algorithm`` (its display name) cannot read observations of ``space``:
    ``[(code, what is wrong, how to fix it)]``, or ``[]``. A Box is read as it is; Discrete,
    MultiBinary and Dict/Tuple of those and Boxes go through :class:`ObsEncoder`."""
    if isinstance(space, gymnasium.spaces.Box):
        return []
    try:
        ObsEncoder(space)
    except ConfigError as error:
        return [
            (
                "algo-observation-space",
                f"{algorithm} cannot read the observation space {space}: {error}",
                "Wrap the env so that its observations are a Box, Discrete, MultiBinary, or "
                "a Dict or Tuple of those (e.g. gymnasium.wrappers.FlattenObservation).",
            )
        ]
    return []


def discrete_action_problems(space: Any, algorithm: str) -> list[tuple[str, str, str]]:
    """Why ``algorithm`` (its display name), which picks one of n actions, cannot act in
    ``space``: ``[(code, what is wrong, how to fix it)]``, or ``[]``."""
    if not isinstance(space, gymnasium.spaces.Discrete):
        fix = (
            "Use a discretizing wrapper or an algorithm for continuous actions."
            if isinstance(space, gymnasium.spaces.Box)
            else "Wrap the env so that its action space is Discrete, or pick another algorithm."
        )
        return [
            ("algo-action-space", f"{algorithm} needs a Discrete action space, got {space}.", fix)
        ]
    if int(space.n) < 1:
        return [
            (
                "algo-action-space",
                f"{algorithm} needs at least one action, but the action space {space} has "
                f"n={int(space.n)}.",
                "Declare the actions the agent can take: `self.action_space = Discrete(3)` for "
                "three.",
            )
        ]
    return []

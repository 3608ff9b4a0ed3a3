"""The environments of a run: what its agent trains on, the check before it starts, and
the ``rgb_array`` build its GIF is recorded from."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from renshu.errors import ConfigError, RenshuError

if TYPE_CHECKING:
    from renshu.check import Problem

NO_GIF_HELP = (
    "To get one, accept `render_mode=None` in the env's __init__ (store it as "
    "self.render_mode), list 'rgb_array' in metadata['render_modes'], and make render() return "
    "the picture as a (height, width, 3) uint8 array when render_mode == 'rgb_array'"
)
"""How to make an environment render frames for a GIF."""


def rgb_array_env(env: Any, env_kwargs: Mapping[str, Any] | None = None) -> Any:
    """``env`` (a name, ``file.py:Class`` or class) built with ``render_mode="rgb_array"``.

    Raises:
        ConfigError: the environment has no ``rgb_array`` render: its
            ``metadata["render_modes"]`` does not list it, or its constructor takes no
            ``render_mode``. The message says so, that a run is fine without a GIF, and how to
            add one (or ``--no-gif``).
    """
    from renshu.make import make
    from renshu.video import supports_rgb_array

    kwargs = dict(env_kwargs or {})
    label = env if isinstance(env, str) else getattr(env, "__name__", str(env))
    try:
        built = make(env, **kwargs, render_mode="rgb_array")
    except RenshuError as error:
        # Why not? Look at the env as it trains (no render_mode) before blaming anything.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                plain = make(env, **kwargs)
            except RenshuError:
                raise error from None
        modes = list(getattr(plain, "metadata", {}).get("render_modes") or [])
        plain.close()
        if "rgb_array" in modes:
            why = (
                "its __init__ takes no render_mode argument, though metadata['render_modes'] "
                "lists rgb_array"
            )
        else:
            why = f"its metadata['render_modes'] lists {', '.join(map(str, modes)) or 'none'}"
            if "render_mode" in str(error) and "unknown argument" in str(error):
                why += " and its __init__ takes no render_mode argument"
        raise ConfigError(
            f"{label} has no rgb_array render ({why}), so there is no GIF of it. A run is "
            f"fine without one. {NO_GIF_HELP}; or pass --no-gif to skip the GIF."
        ) from None
    if not supports_rgb_array(built):
        built.close()
        raise ConfigError(
            f"{label} has no rgb_array render (its metadata['render_modes'] does not list "
            f"rgb_array), so there is no GIF of it. A run is fine without one. {NO_GIF_HELP}; or "
            "pass --no-gif to skip the GIF."
        )
    return built


def _agent_env(env: Any, env_kwargs: Mapping[str, Any], num_envs: int) -> Any:
    """What an agent trains on: ``env`` itself, or, with constructor arguments, the env (or
    ``num_envs`` copies as a vector env) built with them."""
    if not env_kwargs or not isinstance(env, str | type):
        return env
    from renshu.make import make, make_vec

    if num_envs > 1:
        return make_vec(env, num_envs, **env_kwargs)
    return make(env, **env_kwargs)


def _check_trainable(
    env: Any, algo: str, env_kwargs: Mapping[str, Any] | None = None
) -> list[Problem]:
    """Run :func:`renshu.check_env`: its errors refuse the run, its warnings are returned (an
    observation outside its Box bounds is a warning there too, so check and train agree).

    With ``env_kwargs``, the environment is checked as built with them."""
    from renshu.check import check_env

    if env_kwargs:
        from renshu.make import make_raw

        env = make_raw(env, **env_kwargs)
    return check_env(env, algo=algo)

"""renshu.make / renshu.make_vec: every input kind and every error message."""

from __future__ import annotations

import importlib
import re
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

import renshu
from renshu.compat import LegacyEnv, LegacyEnvWarning
from renshu.errors import ConfigError, EnvResolveError

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CORRIDOR = f"{FIXTURES / 'corridor.py'}:Corridor"
USAGE = (
    "Use a short name (shower, catch, catch16, cave), a Gymnasium id such as 'CartPole-v1', "
    "'path/to/file.py:ClassName', 'package.module:ClassName', or pass an env instance."
)
make_module = importlib.import_module("renshu.make")
make = make_module.make
make_vec = make_module.make_vec


def error_of(env: Any, **kwargs: Any) -> str:
    with pytest.raises(EnvResolveError) as caught:
        make(env, **kwargs)
    return str(caught.value)


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


# ---- every input kind -----------------------------------------------------------------------


def test_registered_id_goes_through_gymnasium_make() -> None:
    env = make("CartPole-v1")
    assert env.spec is not None and env.spec.id == "CartPole-v1"
    assert isinstance(env.unwrapped, gymnasium.envs.classic_control.CartPoleEnv)


def test_id_kwargs_and_render_mode_pass_through() -> None:
    env = make("CartPole-v1", max_episode_steps=3, render_mode="rgb_array")
    assert env.render_mode == "rgb_array"
    env.reset(seed=0)
    truncated = [env.step(0)[3] for _ in range(3)]
    assert truncated == [False, False, True]


def test_short_name_resolves_to_its_id() -> None:
    env = make("shower")
    assert env.spec is not None and env.spec.id == "renshu/Shower-v0"


def test_short_name_kwargs_merge_over_its_own() -> None:
    assert make("catch16").observation_space.shape == (16, 16)
    assert make("catch16", size=8).observation_space.shape == (8, 8)
    assert make("Catch").observation_space.shape == (8, 8)


def test_file_path_with_kwargs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    env = make("tests/fixtures/corridor.py:Corridor", length=3, render_mode="ansi")
    assert type(env).__name__ == "Corridor"
    assert env.length == 3 and env.render_mode == "ansi"


def test_absolute_file_path_and_factory_function() -> None:
    assert make(CORRIDOR).length == 10
    assert make(f"{FIXTURES / 'corridor.py'}:make_corridor", length=4).length == 4


def test_file_is_imported_once_per_version() -> None:
    first, second = make(CORRIDOR), make(CORRIDOR)
    assert type(first) is type(second)


def test_module_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    assert type(make("corridor:Corridor", length=2)).__name__ == "Corridor"
    cartpole = make("gymnasium.envs.classic_control.cartpole:CartPoleEnv")
    assert isinstance(cartpole, gymnasium.envs.classic_control.CartPoleEnv)


def test_class_and_instance() -> None:
    from gymnasium.envs.classic_control import CartPoleEnv

    assert isinstance(make(CartPoleEnv), CartPoleEnv)
    instance = CartPoleEnv()
    assert make(instance) is instance


def test_legacy_instance_is_wrapped() -> None:
    class Legacy:
        action_space = gymnasium.spaces.Discrete(2)
        observation_space = gymnasium.spaces.Discrete(4)

        def reset(self) -> int:
            return 0

        def step(self, action: int) -> tuple[int, float, bool, dict[str, Any]]:
            return 1, 1.0, True, {}

    with pytest.warns(LegacyEnvWarning):
        env = make(Legacy())
    assert isinstance(env, LegacyEnv)
    assert env.reset(seed=0) == (0, {})
    assert env.step(0) == (1, 1.0, True, False, {})


def test_renshu_make_is_the_function_even_after_importing_the_module() -> None:
    assert renshu.make is make
    assert renshu.make("CartPole-v1").spec.id == "CartPole-v1"
    assert renshu.make_vec is make_vec


# ---- errors: names ----------------------------------------------------------------------------


def test_unknown_name_lists_close_matches() -> None:
    assert error_of("cath") == f"Unknown environment 'cath'. Did you mean: catch, catch16? {USAGE}"


def test_unknown_name_without_matches() -> None:
    assert error_of("qqqqqq") == f"Unknown environment 'qqqqqq'. {USAGE}"


def test_wrong_case_id_suggests_the_right_one() -> None:
    assert "Did you mean: CartPole-v1, CartPole-v0" in error_of("cartpole-v1")


def test_not_an_env_argument() -> None:
    assert error_of(42) == f"Cannot make an environment from 42 (int). {USAGE}"


def test_vector_env_instance() -> None:
    envs = SyncVectorEnv([lambda: gymnasium.make("CartPole-v1")])
    assert error_of(envs) == (
        "SyncVectorEnv is a vector environment (gymnasium.vector.VectorEnv), but make() returns "
        "a single environment. Use the vector env directly, or build one with "
        "renshu.make_vec(...)."
    )


def test_instance_with_kwargs() -> None:
    from gymnasium.envs.classic_control import CartPoleEnv

    assert error_of(CartPoleEnv(), size=3) == (
        "make() got size=3 for an environment instance (CartPoleEnv), which is already built. "
        "Pass its class or 'path/to/file.py:ClassName' to build it with these arguments, or "
        "pass the instance alone."
    )


# ---- errors: files and modules ----------------------------------------------------------------


def test_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert error_of("envs/nope.py:ShowerEnv") == (
        f"Environment file 'envs/nope.py' does not exist (looked for {tmp_path}/envs/nope.py). "
        "Expected 'path/to/file.py:ClassName' with a path relative to the current folder "
        f"({tmp_path}) or an absolute one; check the path."
    )


def test_folder_instead_of_file(tmp_path: Path) -> None:
    assert f"'{tmp_path}' (in '{tmp_path}:X') is a folder, not a file." in error_of(f"{tmp_path}:X")


def test_file_raising_on_import_names_file_type_message_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "broken.py",
        """\
        import numpy as np

        SPACE = Discreet(3)
        """,
    )
    message = error_of(f"{path}:ShowerEnv")
    assert message == (
        f"Importing '{path}' (for '{path}:ShowerEnv') raised NameError: name 'Discreet' is not "
        f"defined ({path}, line 3: `SPACE = Discreet(3)`). Fix the error in the file and try "
        "again."
    )


def test_file_with_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.py", "class ShowerEnv(Env)\n    pass\n")
    message = error_of(f"{path}:ShowerEnv")
    assert message.startswith(f"Importing '{path}' (for '{path}:ShowerEnv') raised SyntaxError: ")
    assert f"({path}, line 1: `class ShowerEnv(Env)`). Fix the error in the file" in message


def test_file_importing_a_missing_package(tmp_path: Path) -> None:
    path = write(tmp_path, "old.py", "import gym_that_is_not_installed\n")
    message = error_of(f"{path}:Env")
    assert "raised ModuleNotFoundError: No module named 'gym_that_is_not_installed'" in message
    assert message.endswith("Install 'gym_that_is_not_installed', or change the import.")


def test_class_not_in_file_lists_the_classes_there() -> None:
    assert error_of(f"{FIXTURES / 'corridor.py'}:Coridor") == (
        f"'{FIXTURES / 'corridor.py'}' has no class 'Coridor'. Classes defined there: Corridor, "
        f"NotAnEnv. Use '{FIXTURES / 'corridor.py'}:Corridor'."
    )


def test_file_without_class_name() -> None:
    path = FIXTURES / "corridor.py"
    assert error_of(str(path)) == (
        f"'{path}' names a file but no class. Expected 'path/to/file.py:ClassName'; use "
        f"'{path}:Corridor'."
    )


def test_class_that_is_not_an_env() -> None:
    path = FIXTURES / "corridor.py"
    assert error_of(f"{path}:NotAnEnv") == (
        f"'{path}:NotAnEnv' is not an environment: class NotAnEnv has no reset() or step() "
        "method. Expected a gymnasium.Env subclass, or a class with reset(), step(), "
        "action_space and observation_space. Environments in that file: Corridor."
    )


def test_missing_module() -> None:
    assert error_of("my_envs.shower:ShowerEnv") == (
        "Cannot import module 'my_envs.shower' (for 'my_envs.shower:ShowerEnv'): there is no "
        "module named 'my_envs'. Expected 'package.module:ClassName' naming an importable "
        "module; install the package, add its folder to PYTHONPATH, or use "
        "'path/to/file.py:ClassName'."
    )


def test_module_spelled_like_a_local_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    monkeypatch.delitem(sys.modules, "corridor", raising=False)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(FIXTURES))])
    assert error_of("corridor:Corridor").endswith(
        "There is a file 'corridor.py' here: use 'corridor.py:Corridor'."
    )


def test_module_raising_on_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "exploding_env.py", "raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    message = error_of("exploding_env:Env")
    assert message.startswith(
        "Importing module 'exploding_env' (for 'exploding_env:Env') raised RuntimeError: boom ("
    )
    assert "line 1: `raise RuntimeError('boom')`). Fix the error in the module" in message


# ---- errors: constructor arguments ----------------------------------------------------------


def test_unknown_kwarg_lists_accepted_ones() -> None:
    assert error_of(CORRIDOR, lenght=3) == (
        f"'{CORRIDOR}' got an unknown argument 'lenght'. Did you mean 'length'? It accepts: "
        "length, render_mode. Remove it or fix its name."
    )


def test_unknown_kwargs_of_an_id() -> None:
    assert error_of("CartPole-v1", foo=1, bar=2) == (
        "'CartPole-v1' got an unknown arguments 'foo', 'bar'. It accepts: sutton_barto_reward, "
        "render_mode, max_episode_steps, disable_env_checker. Remove it or fix its name."
    )


def test_kwarg_to_a_class_that_takes_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert error_of("tests/fixtures/tutorial000_gymnasium.py:ShowEnv", render_mode="ansi") == (
        "'tests/fixtures/tutorial000_gymnasium.py:ShowEnv' got an unknown argument "
        "'render_mode'. It accepts no arguments. Remove it or fix its name."
    )


def test_missing_required_kwarg(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "needs.py",
        """\
        class Needs:
            def __init__(self, size):
                self.size = size

            def reset(self):
                return 0

            def step(self, action):
                return 0, 0.0, True, {}
        """,
    )
    assert error_of(f"{path}:Needs") == (
        f"'{path}:Needs' needs 'size', which has no default. It accepts: size. Pass it, e.g. "
        "make(..., size=...)."
    )


def test_value_error_of_the_env_is_kept_and_prefixed() -> None:
    assert error_of(CORRIDOR, length=0) == (
        f"Could not build '{CORRIDOR}' with length=0: length must be >= 1, got 0. Fix the "
        "argument, or leave it out to use the default."
    )


def test_value_error_of_a_builtin_env() -> None:
    message = error_of("catch", size=3)
    assert message.startswith("Could not build 'catch' (renshu/Catch-v0) with size=3: ")
    assert message.endswith("Fix the argument, or leave it out to use the default.")


def test_other_constructor_errors_name_type_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "crash.py",
        """\
        class Crash:
            def __init__(self):
                self.state = {}["temperature"]

            def reset(self):
                return 0

            def step(self, action):
                return 0, 0.0, True, {}
        """,
    )
    assert error_of(f"{path}:Crash") == (
        f"Building '{path}:Crash' raised KeyError: 'temperature' ({path}, line 3: "
        '`self.state = {}["temperature"]`). Fix the constructor (or its arguments) and try again.'
    )


def test_unsupported_render_mode() -> None:
    assert error_of("CartPole-v1", render_mode="ansi") == (
        "'CartPole-v1' cannot render with render_mode='ansi': its metadata['render_modes'] lists "
        "human, rgb_array. Pass one of those, or leave render_mode out."
    )


def test_env_without_spaces(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "spaceless.py",
        """\
        class Spaceless:
            def reset(self):
                return 0

            def step(self, action):
                return 0, 0.0, True, {}
        """,
    )
    assert error_of(f"{path}:Spaceless") == (
        f"'{path}:Spaceless' has no action_space. Set it in __init__, e.g. self.action_space = "
        "Discrete(3); `renshu check` diagnoses the rest."
    )


# ---- make_vec ---------------------------------------------------------------------------------


def test_make_vec_auto_uses_the_registered_twin() -> None:
    envs = make_vec("CartPole-v1", 3)
    assert type(envs).__name__ == "CartPoleVectorEnv"
    assert envs.reset(seed=0)[0].shape == (3, 4)


def test_make_vec_builtin_twin() -> None:
    envs = make_vec("shower", 2)
    assert not isinstance(envs, SyncVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP


def test_make_vec_sync_of_make_copies() -> None:
    envs = make_vec(CORRIDOR, 2, length=2)
    assert isinstance(envs, SyncVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (2, 1)
    envs.step(np.array([1, 1]))
    _, _, _, truncated, _ = envs.step(np.array([1, 1]))
    assert truncated.all()


def test_make_vec_sync_forced_for_an_id_with_a_twin() -> None:
    assert isinstance(make_vec("CartPole-v1", 2, vectorization="sync"), SyncVectorEnv)


def test_make_vec_async() -> None:
    envs = make_vec(CORRIDOR, 2, vectorization="async")
    try:
        assert isinstance(envs, AsyncVectorEnv)
        assert envs.reset(seed=1)[0].shape == (2, 1)
    finally:
        envs.close()


def test_make_vec_twin_required_but_missing() -> None:
    with pytest.raises(EnvResolveError) as caught:
        make_vec(CORRIDOR, 2, vectorization="twin")
    assert str(caught.value) == (
        f"'{CORRIDOR}' has no batched twin (no vector_entry_point is registered for it). Use "
        "vectorization='sync' or 'async', or 'auto' to fall back to SyncVectorEnv."
    )


def test_make_vec_twin_with_another_autoreset_mode() -> None:
    class SameStepTwin(VectorEnv[Any, Any, Any]):
        metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}  # noqa: RUF012

        def __init__(self, num_envs: int) -> None:
            self.num_envs = num_envs

    gymnasium.register(
        "renshu_test/SameStep-v0",
        entry_point="gymnasium.envs.classic_control:CartPoleEnv",
        vector_entry_point=SameStepTwin,
    )
    try:
        with pytest.raises(EnvResolveError, match=r"resets with AutoresetMode\.SAME_STEP"):
            make_vec("renshu_test/SameStep-v0", 2)
        assert isinstance(make_vec("renshu_test/SameStep-v0", 2, vectorization="sync"), VectorEnv)
    finally:
        del gymnasium.registry["renshu_test/SameStep-v0"]


def test_make_vec_instance_only_once() -> None:
    from gymnasium.envs.classic_control import CartPoleEnv

    assert make_vec(CartPoleEnv(), 1).num_envs == 1
    with pytest.raises(EnvResolveError) as caught:
        make_vec(CartPoleEnv(), 2)
    assert str(caught.value) == (
        "make_vec() needs something it can build 2 times, but got an instance (CartPoleEnv). "
        "Pass its class, its 'path/to/file.py:ClassName', a short name or an id."
    )


@pytest.mark.parametrize(
    ("num_envs", "vectorization", "message"),
    [
        (0, "auto", "num_envs must be a positive int, got 0."),
        (True, "auto", "num_envs must be a positive int, got True."),
        (2, "threads", "vectorization must be one of auto, twin, sync, async; got 'threads'."),
    ],
)
def test_make_vec_bad_options(num_envs: Any, vectorization: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_vec("CartPole-v1", num_envs, vectorization=vectorization)
    assert str(caught.value) == message


def test_make_vec_of_a_legacy_file_warns_once_per_message() -> None:
    path = f"{FIXTURES / 'tutorial000_gymnasium.py'}:ShowEnv"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        envs = make_vec(path, 3)
    assert sum(issubclass(w.category, LegacyEnvWarning) for w in caught) == 1
    obs, _ = envs.reset(seed=0, options={})
    assert obs.shape == (3, 1) and obs.dtype == np.float32


def test_error_messages_are_one_paragraph() -> None:
    for message in (error_of("cath"), error_of(CORRIDOR, lenght=1)):
        assert "\n" not in message and not re.search(r"\s{2,}", message)

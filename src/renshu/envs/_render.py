"""Helpers shared by the built-in environments.

Drawing for ``render_mode="rgb_array"`` (a 3x5 pixel font, rectangles, scaling),
the pygame window behind ``render_mode="human"`` (pygame is imported only when a window is
opened), and the checks of constructor arguments. Everything here works on plain NumPy arrays;
frames are ``(height, width, 3)`` ``uint8`` RGB pictures.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from gymnasium.error import DependencyNotInstalled

from renshu.errors import ConfigError

Colour = tuple[int, int, int]
Frame = npt.NDArray[np.uint8]

# ---------------------------------------------------------------------------------------------
# A 3x5 pixel font: enough for scores, counters and short labels. Lower case prints as upper case;
# characters without a glyph print as a blank.
_GLYPHS: dict[str, tuple[str, str, str, str, str]] = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", ".##", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", "..#", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
    "A": (".#.", "#.#", "###", "#.#", "#.#"),
    "B": ("##.", "#.#", "##.", "#.#", "##."),
    "C": (".##", "#..", "#..", "#..", ".##"),
    "D": ("##.", "#.#", "#.#", "#.#", "##."),
    "E": ("###", "#..", "##.", "#..", "###"),
    "F": ("###", "#..", "##.", "#..", "#.."),
    "G": (".##", "#..", "#.#", "#.#", ".##"),
    "H": ("#.#", "#.#", "###", "#.#", "#.#"),
    "I": ("###", ".#.", ".#.", ".#.", "###"),
    "J": ("..#", "..#", "..#", "#.#", ".#."),
    "K": ("#.#", "#.#", "##.", "#.#", "#.#"),
    "L": ("#..", "#..", "#..", "#..", "###"),
    "M": ("#.#", "###", "###", "#.#", "#.#"),
    "N": ("##.", "#.#", "#.#", "#.#", "#.#"),
    "O": (".#.", "#.#", "#.#", "#.#", ".#."),
    "P": ("##.", "#.#", "##.", "#..", "#.."),
    "Q": (".#.", "#.#", "#.#", "##.", ".##"),
    "R": ("##.", "#.#", "##.", "#.#", "#.#"),
    "S": (".##", "#..", ".#.", "..#", "##."),
    "T": ("###", ".#.", ".#.", ".#.", ".#."),
    "U": ("#.#", "#.#", "#.#", "#.#", "###"),
    "V": ("#.#", "#.#", "#.#", "#.#", ".#."),
    "W": ("#.#", "#.#", "###", "###", "#.#"),
    "X": ("#.#", "#.#", ".#.", "#.#", "#.#"),
    "Y": ("#.#", "#.#", ".#.", ".#.", ".#."),
    "Z": ("###", "..#", ".#.", "#..", "###"),
    "-": ("...", "...", "###", "...", "..."),
    "+": ("...", ".#.", "###", ".#.", "..."),
    ".": ("...", "...", "...", "...", ".#."),
    ":": ("...", ".#.", "...", ".#.", "..."),
    "/": ("..#", "..#", ".#.", "#..", "#.."),
    "!": (".#.", ".#.", ".#.", "...", ".#."),
}
_FONT: dict[str, npt.NDArray[np.bool_]] = {
    char: np.array([[cell == "#" for cell in row] for row in rows], dtype=np.bool_)
    for char, rows in _GLYPHS.items()
}
GLYPH_WIDTH = 3
GLYPH_HEIGHT = 5


def text_width(text: str, scale: int = 2) -> int:
    """Width in pixels of ``text`` drawn by :func:`draw_text` at ``scale`` (no trailing gap)."""
    if not text:
        return 0
    return (len(text) * (GLYPH_WIDTH + 1) - 1) * scale


def draw_text(frame: Frame, text: str, x: int, y: int, colour: Colour, scale: int = 2) -> None:
    """Draw ``text`` in place with its top-left corner at pixel ``(x, y)``; clipped at the edges."""
    height, width = frame.shape[:2]
    for i, char in enumerate(text.upper()):
        glyph = _FONT.get(char)
        if glyph is None:
            continue
        big = np.repeat(np.repeat(glyph, scale, axis=0), scale, axis=1)
        x0 = x + i * (GLYPH_WIDTH + 1) * scale
        y0 = y
        # Clip the glyph to the frame.
        gx0, gy0 = max(0, -x0), max(0, -y0)
        gx1 = min(big.shape[1], width - x0)
        gy1 = min(big.shape[0], height - y0)
        if gx1 <= gx0 or gy1 <= gy0:
            continue
        mask = big[gy0:gy1, gx0:gx1]
        region = frame[y0 + gy0 : y0 + gy1, x0 + gx0 : x0 + gx1]
        region[mask] = colour


def fill_rect(frame: Frame, x0: int, y0: int, x1: int, y1: int, colour: Colour) -> None:
    """Fill the pixels ``x0 <= x < x1``, ``y0 <= y < y1`` in place (clipped at the edges)."""
    height, width = frame.shape[:2]
    x0, x1 = max(0, x0), min(width, x1)
    y0, y1 = max(0, y0), min(height, y1)
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = colour


def blank(height: int, width: int, colour: Colour) -> Frame:
    """A new ``(height, width, 3)`` frame filled with ``colour``."""
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:, :] = colour
    return frame


def scale_up(frame: Frame, factor: int) -> Frame:
    """Nearest-neighbour enlargement of a frame (or any 2-D array) by an integer ``factor``."""
    return np.repeat(np.repeat(frame, factor, axis=0), factor, axis=1)


# ---------------------------------------------------------------------------------------------
# render_mode="human": a pygame window, opened on first use.
_PYGAME_HINT = (
    'render_mode="human" needs pygame, which is not installed; '
    'install it with: pip install "renshu[human]"'
)


def import_pygame() -> Any:
    """Import pygame, or raise ``DependencyNotInstalled`` with the install command."""
    try:
        import pygame
    except ImportError as error:
        raise DependencyNotInstalled(_PYGAME_HINT) from error
    return pygame


class HumanWindow:
    """A window that shows RGB frames at a fixed frame rate (``render_mode="human"``)."""

    def __init__(self, title: str, fps: float) -> None:
        self.title = title
        self.fps = fps
        self._pygame: Any = None
        self._screen: Any = None
        self._clock: Any = None

    def show(self, frame: Frame) -> None:
        """Draw ``frame`` in the window (opening it on first call) and wait for the next tick."""
        if self._pygame is None:
            self._pygame = import_pygame()
        pygame = self._pygame
        height, width = frame.shape[:2]
        if self._screen is None:
            pygame.display.init()
            pygame.display.set_caption(self.title)
            self._screen = pygame.display.set_mode((width, height))
            self._clock = pygame.time.Clock()
        surface = pygame.surfarray.make_surface(np.ascontiguousarray(frame.transpose(1, 0, 2)))
        self._screen.blit(surface, (0, 0))
        pygame.event.pump()
        pygame.display.flip()
        self._clock.tick(self.fps)

    def close(self) -> None:
        """Close the window if it is open (safe to call more than once)."""
        if self._screen is not None and self._pygame is not None:
            self._pygame.display.quit()
        self._screen = None
        self._clock = None


# ---------------------------------------------------------------------------------------------
# Constructor argument checks: the message names the argument, the allowed range and the value.
def check_int(
    env: str,
    name: str,
    value: object,
    minimum: int,
    maximum: int | None = None,
    *,
    or_none: bool = False,
) -> int:
    """Return ``value`` if it is an int in ``[minimum, maximum]``; else raise ``ConfigError``.

    The message reads like ``Catch size must be an int >= 5, got 3``; ``or_none`` adds
    ``or None`` to the allowed values it names (the caller handles ``None`` itself).
    """
    allowed = f"an int >= {minimum}" if maximum is None else f"an int in [{minimum}, {maximum}]"
    if or_none:
        allowed += " or None"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{env} {name} must be {allowed}, got {value!r}")
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        raise ConfigError(f"{env} {name} must be {allowed}, got {value!r}")
    return number


def check_render_mode(env: str, render_mode: object, modes: list[str]) -> str | None:
    """Return ``render_mode`` if it is ``None`` or one of ``modes``; else raise ``ConfigError``."""
    if render_mode is None or (isinstance(render_mode, str) and render_mode in modes):
        return render_mode
    allowed = ", ".join(["None", *(repr(mode) for mode in modes)])
    raise ConfigError(f"{env} render_mode must be one of {allowed}, got {render_mode!r}")


def check_num_envs(env: str, num_envs: object) -> int:
    """Return ``num_envs`` if it is an int >= 1; else raise ``ConfigError``."""
    return check_int(env, "num_envs", num_envs, 1)


def check_action(env: str, action: object, n_actions: int) -> int:
    """Return one action as an int in ``[0, n_actions)``; else raise ``ValueError``."""
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action.item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        raise ValueError(f"{env} action must be an int in [0, {n_actions - 1}], got {action!r}")
    number = int(action)
    if not 0 <= number < n_actions:
        raise ValueError(f"{env} action must be an int in [0, {n_actions - 1}], got {action!r}")
    return number


def check_actions(
    env: str, actions: object, num_envs: int, n_actions: int
) -> npt.NDArray[np.int64]:
    """Return a batch of actions as an int64 array of shape ``(num_envs,)``; else raise."""
    array = np.asarray(actions)
    if array.shape != (num_envs,) or array.dtype.kind not in "iu":
        raise ValueError(
            f"{env} actions must be an int array of shape ({num_envs},), "
            f"got {array.dtype} array of shape {array.shape}"
        )
    if num_envs and (array.min() < 0 or array.max() >= n_actions):
        raise ValueError(
            f"{env} actions must lie in [0, {n_actions - 1}], "
            f"got values from {array.min()} to {array.max()}"
        )
    return array.astype(np.int64, copy=False)

"""The sum tree behind prioritized replay: sums and minimum of priorities, vectorised."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from renshu.errors import ConfigError
from renshu.replay._checks import _check_int

__all__ = ["SumTree"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class SumTree:
    """Sums and minimum of ``size`` non-negative priorities, with vectorised updates and search.

    A sum tree with ``branching`` children per node (32 by default, so a million slots take four
    levels and an update or a search costs a few numpy calls per level, whatever the batch).
    Every level is an array padded to a multiple of ``branching``, so any ``size`` works (no
    power-of-two requirement, no large padding). Alongside the sums each node keeps the minimum
    over its **positive** leaves (a zero leaf means "absent"), which is what prioritized replay
    needs for the largest importance weight.

    Example:
        >>> tree = SumTree(3, branching=2)
        >>> tree.update(np.array([0, 1, 2]), np.array([1.0, 0.0, 3.0]))
        >>> tree.total, tree.min
        (4.0, 1.0)
        >>> tree.find(np.array([0.5, 1.0, 3.9])).tolist()
        [0, 2, 2]
    """

    def __init__(self, size: int, branching: int = 32) -> None:
        self.size = _check_int("size", size, 1)
        self.branching = K = _check_int("branching", branching, 2)
        counts = [self.size]  # nodes per level, leaves first
        while counts[-1] > 1:
            counts.append(-(-counts[-1] // K))
        counts.reverse()  # root first
        self._depth = len(counts) - 1
        # Level d + 1 is padded to a multiple of K so that reshape(-1, K)[i] are the children of i.
        lengths = [1] + [-(-c // K) * K for c in counts[1:]]
        self._sums = [np.zeros(n, dtype=np.float64) for n in lengths]
        self._mins = [np.full(n, np.inf, dtype=np.float64) for n in lengths]

    @property
    def total(self) -> float:
        """Sum of all priorities."""
        return float(self._sums[0][0])

    @property
    def min(self) -> float:
        """Smallest positive priority (``inf`` when every priority is zero)."""
        return float(self._mins[0][0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the tree arrays."""
        return int(sum(a.nbytes for a in self._sums) + sum(a.nbytes for a in self._mins))

    def get(self, indices: npt.ArrayLike) -> FloatArray:
        """The priorities stored at ``indices``."""
        return self._sums[-1][np.asarray(indices, dtype=np.int64)]

    def values(self) -> FloatArray:
        """A copy of all ``size`` priorities."""
        return self._sums[-1][: self.size].copy()

    def update(self, indices: npt.ArrayLike, values: npt.ArrayLike) -> None:
        """Set the priorities at distinct ``indices`` (non-negative, finite); refresh ancestors."""
        node = np.asarray(indices, dtype=np.int64).reshape(-1)
        if node.size == 0:
            return
        vals = np.broadcast_to(np.asarray(values, dtype=np.float64), node.shape)
        self._sums[-1][node] = vals
        self._mins[-1][node] = np.where(vals > 0, vals, np.inf)
        K = self.branching
        for d in range(self._depth - 1, -1, -1):
            # Repeated parents are recomputed from the same (already final) children: harmless.
            node = node // K
            self._sums[d][node] = self._sums[d + 1].reshape(-1, K)[node].sum(axis=1)
            self._mins[d][node] = self._mins[d + 1].reshape(-1, K)[node].min(axis=1)

    def find(self, mass: npt.ArrayLike) -> IntArray:
        """Leaf indices ``i`` with ``prefix_sum(i) <= mass < prefix_sum(i + 1)``, all at once.

        Only leaves with a positive priority are returned (given ``total > 0``), even when
        floating-point rounding puts ``mass`` at or past the total.
        """
        u = np.array(mass, dtype=np.float64).reshape(-1)
        node = np.zeros(u.shape, dtype=np.int64)
        rows = np.arange(u.size)
        K = self.branching
        for d in range(1, self._depth + 1):
            below = np.cumsum(self._sums[d].reshape(-1, K)[node], axis=1)  # (B, K) prefix sums
            # Keep u strictly inside this node's mass (rounding can put it at or past the end):
            # then the child it falls in has a positive sum.
            u = np.minimum(u, np.nextafter(below[:, -1], 0.0))
            j = (u[:, None] >= below).sum(axis=1)  # children wholly below u
            u = u - below[rows, j - 1] * (j > 0)
            node = node * K + j
        return node

    def sample(self, batch_size: int, rng: np.random.Generator) -> IntArray:
        """Stratified sampling: one uniform draw in each of ``batch_size`` equal slices of mass."""
        total = self.total
        if not total > 0:
            raise ConfigError("cannot sample from a sum tree whose priorities are all zero")
        mass = (np.arange(batch_size) + rng.random(batch_size)) * (total / batch_size)
        return self.find(mass)

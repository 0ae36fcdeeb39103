"""Deterministic randomness.

Two flavours, both pure functions of the seed:
- `rng(seed, *labels)`: a numpy Generator per stage, so adding a draw in one stage never
  shifts another stage's numbers.
- `keyed_uniform(keys, seed, *labels)`: one number per *entity key*, so the same person gets
  the same dirt in every monthly file and in advance(), whatever the row order.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl


def label_int(*parts: object) -> int:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def rng(seed: int, *labels: object) -> np.random.Generator:
    return np.random.default_rng([seed, label_int(*labels)])


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a cheap, well-spread 64-bit hash, vectorized."""
    x = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        x += np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def keyed_hash(keys: np.ndarray, seed: int, *labels: object) -> np.ndarray:
    return mix64(np.asarray(keys, dtype=np.uint64) ^ np.uint64(label_int(seed, *labels)))


def keyed_uniform(keys: np.ndarray, seed: int, *labels: object) -> np.ndarray:
    return (keyed_hash(keys, seed, *labels) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def keyed_int(keys: np.ndarray, high: int, seed: int, *labels: object) -> np.ndarray:
    """Integers in [0, high) per key."""
    return (keyed_hash(keys, seed, *labels) % np.uint64(high)).astype(np.int64)


def strings(values) -> pl.Series:
    """A String Series from a list or numpy array (object arrays may hold None)."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        values = values.tolist()  # polars cannot cast numpy object arrays
    return pl.Series(values, dtype=pl.String)


_M64 = (1 << 64) - 1


class KeyedRandom:
    """splitmix64 with the three methods the dirt transforms use. Seeding is free (unlike
    random.Random), so every dirty value can have its own generator keyed by its entity."""

    __slots__ = ("state",)

    def __init__(self, seed: int) -> None:
        self.state = int(seed) & _M64

    def _next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        return z ^ (z >> 31)

    def random(self) -> float:
        return (self._next() >> 11) / float(1 << 53)

    def randrange(self, start: int, stop: int | None = None) -> int:
        if stop is None:
            start, stop = 0, start
        return start + self._next() % (stop - start)

    def choice(self, seq):
        return seq[self._next() % len(seq)]

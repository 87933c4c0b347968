"""Near-duplicate removal: MinHash over character 5-grams with LSH banding, verified by exact Jaccard.

Hand-written (~60 lines) rather than datasketch because that would be a new dependency for one small
index; character shingles need no tokenizer, so the same code works for Chinese and German alike.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

_PRIME = np.uint64((1 << 61) - 1)


def shingles(text: str, size: int = 5) -> set[str]:
    """Character n-grams of the case-folded, whitespace-collapsed text (the whole text when shorter)."""
    text = re.sub(r"\s+", " ", text.casefold()).strip()
    if len(text) <= size:
        return {text}
    return {text[i : i + size] for i in range(len(text) - size + 1)}


class NearDuplicateIndex:
    """Remembers texts; `add` says whether a text is new (Jaccard of shingles below `threshold` to all kept)."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 64, bands: int = 16, seed: int = 1):
        if num_perm % bands:
            raise ValueError(f"num_perm={num_perm} must be a multiple of bands={bands}")
        rng = np.random.default_rng(seed)
        # 32-bit multipliers keep a * x (x < 2**32) inside uint64 without overflow.
        self._a = rng.integers(1, 1 << 32, num_perm, dtype=np.uint64)
        self._b = rng.integers(0, 1 << 32, num_perm, dtype=np.uint64)
        self.threshold = threshold
        self.rows = num_perm // bands
        self.bands = bands
        self._buckets: dict[tuple[int, bytes], list[int]] = {}
        self._sets: list[set[str]] = []

    def _signature(self, grams: set[str]) -> np.ndarray:
        x = np.array(
            [int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little") for g in grams],
            dtype=np.uint64,
        )
        return ((np.outer(x, self._a) + self._b) % _PRIME).min(axis=0)

    def is_duplicate(self, text: str) -> bool:
        """True when a kept text is at least `threshold` similar (nothing is stored)."""
        grams = shingles(text)
        return self._duplicate(grams, self._band_keys(grams))

    def _band_keys(self, grams: set[str]) -> list[tuple[int, bytes]]:
        signature = self._signature(grams)
        return [(b, signature[b * self.rows : (b + 1) * self.rows].tobytes()) for b in range(self.bands)]

    def _duplicate(self, grams: set[str], keys: list[tuple[int, bytes]]) -> bool:
        candidates = {i for key in keys for i in self._buckets.get(key, ())}
        return any(len(grams & self._sets[i]) / len(grams | self._sets[i]) >= self.threshold for i in candidates)

    def add(self, text: str) -> bool:
        """Keep `text` and return True, or return False (keeping nothing) when it is a near duplicate."""
        grams = shingles(text)
        keys = self._band_keys(grams)
        if self._duplicate(grams, keys):
            return False
        self._sets.append(grams)
        for key in keys:
            self._buckets.setdefault(key, []).append(len(self._sets) - 1)
        return True

    def __len__(self) -> int:
        return len(self._sets)

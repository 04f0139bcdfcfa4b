"""The prediction cache: the models run once per (photo content, render size, repair, models, colour hints), so that
the colour controls (boost, brightness, CNN/GAN blend, mark) only redo the cheap full-resolution merge. A new render
size or a new set of hints re-runs the models on the photo an entry already holds: it is not read nor repaired again.

Nothing per request is stored on shared objects except this bounded, locked cache, whose entries expire after
MAX_AGE_S like the request folders (demo.files.sweep).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np

import colorizer
from colorizer.color import gray_to_rgb
from colorizer.hints import Hint, check_hints
from colorizer.pipeline import SupportsRestore, to_gray
from colorizer.restore import changed_share
from demo.files import MAX_AGE_S, load_photo


@dataclass
class Entry:
    """One cached photo: its 'before' image and both models' predictions at one render size."""

    before: np.ndarray  # RGB uint8 HxWx3, the upload as the user sees it
    result: colorizer.Comparison
    source_gray: np.ndarray | None = None  # gray uint8 HxW before restoration, when the luma was restored
    # images that no control changes ('original', 'luma', 'restored'), written once as (full PNG, page image)
    # by fixed_png and reused by every re-render
    pngs: dict[str, tuple[str, str]] = field(default_factory=dict)

    @cached_property
    def restore_changed(self) -> float | None:
        """Share (0..1) of the luma's pixels restoration moved (changed_share), None if not restored: computed on
        the first render, not on every re-render."""
        return None if self.source_gray is None else changed_share(self.source_gray, self.result.photo.gray)

    @property
    def arrays(self) -> list[np.ndarray]:
        """The arrays it holds (photo.rgb is often `before` itself; entries of one photo share its arrays)."""
        photo = self.result.photo
        return [
            a for a in (self.before, photo.gray, photo.rgb, self.source_gray, *self.result.ab.values()) if a is not None
        ]

    @property
    def nbytes(self) -> int:
        """The bytes its arrays hold (each counted once)."""
        return sum(a.nbytes for a in {id(a): a for a in self.arrays}.values())


class Key(NamedTuple):
    """What an Entry is cached under."""

    digest: str  # sha256 of the upload's bytes
    render_size: int
    restorer: str | None  # the restorer's name, None: not repaired
    models: tuple[str, ...]  # model names
    hints: tuple[Hint, ...]  # canonical: (float x, float y, (int r, g, b)), in order (a later hint wins)


class PredictionCache:
    """A thread-safe LRU of Entry, keyed by Key, bounded in bytes (arrays shared by entries counted once) and items.
    An entry is dropped `max_age_s` seconds after it was made, even if it is still being used."""

    def __init__(self, max_bytes: int = 1 << 30, max_items: int = 16, max_age_s: float = MAX_AGE_S):
        self.max_bytes, self.max_items, self.max_age_s = max_bytes, max_items, max_age_s
        self._items: OrderedDict[tuple, tuple[float, Entry]] = OrderedDict()  # key -> (time made, entry)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def get(self, key: tuple) -> Entry | None:
        """The entry for `key`, or None if there is none or it has expired."""
        with self._lock:
            self._expire()
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][1]
            return None

    def same_photo(self, key: Key) -> Entry | None:
        """The most recent live entry of the same upload, repaired the same way (any render size, models, hints):
        its photo serves a new render size or new hints."""
        with self._lock:
            self._expire()
            for other in reversed(self._items):
                if isinstance(other, Key) and (other.digest, other.restorer) == (key.digest, key.restorer):
                    return self._items[other][1]
            return None

    def put(self, key: tuple, entry: Entry) -> None:
        """Add an entry; the least recently used ones go while the cache is over its bounds."""
        with self._lock:
            self._items[key] = (time.monotonic(), entry)
            self._items.move_to_end(key)
            self._expire()
            while len(self._items) > 1 and (len(self._items) > self.max_items or self._nbytes() > self.max_bytes):
                self._items.popitem(last=False)

    def _nbytes(self) -> int:
        arrays = {id(a): a for _, e in self._items.values() for a in e.arrays}
        return sum(a.nbytes for a in arrays.values())

    def expire(self) -> None:
        """Drop the entries older than max_age_s (also done on every get and put)."""
        with self._lock:
            self._expire()

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, (made, _) in self._items.items() if now - made > self.max_age_s]:
            del self._items[key]


def file_digest(path: str) -> str:
    """sha256 of a file's bytes: the cache key of an upload, whatever its name."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def as_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 HxW or HxWx3 -> RGB uint8 HxWx3."""
    return gray_to_rgb(image) if image.ndim == 2 else image


def canonical(hints: Sequence[Hint]) -> tuple[Hint, ...]:
    """Hints as a cache key: floats for x and y, ints for the colour, the order kept (a later hint wins)."""
    return tuple((float(x), float(y), tuple(int(c) for c in rgb)) for x, y, rgb in hints)


def predict(
    cache: PredictionCache, models: list[colorizer.Model], path: str, render_size: int,
    restorer: SupportsRestore | None = None, hints: Sequence[Hint] = (),
) -> Entry:  # fmt: skip
    """The models' predictions for an upload at a render size, its luma first repaired by `restorer` if one is
    given, following the colour hints (colorizer.hints; checked: HintError), from the cache when possible (the
    restore setting, the models and the hints are part of the key: with no models, an entry holds the repaired photo
    alone). On a miss, the photo of an entry of the same upload and repair is reused: only the models run."""
    key = Key(file_digest(path), int(render_size), getattr(restorer, "name", None), tuple(m.name for m in models),
              canonical(hints))  # fmt: skip
    entry = cache.get(key)
    if entry is None and (same := cache.same_photo(key)) is not None:
        check_hints(hints, *same.result.photo.gray.shape)
        result = colorizer.compare(models, same.result.photo, int(render_size), False, hints)
        result.seconds.update({k: v for k, v in same.result.seconds.items() if k == "restore"})  # for timing_line
        entry = Entry(same.before, result, same.source_gray, same.pngs)  # 'original', 'luma', 'restored' reused
        cache.put(key, entry)
    elif entry is None:
        image = load_photo(path)
        check_hints(hints, *image.shape[:2])
        result = colorizer.compare(models, image, int(render_size), restorer or False, hints)
        source = to_gray(image) if restorer is not None else None  # the luma the restorer was given
        entry = Entry(as_rgb(image), result, source)
        cache.put(key, entry)
    return entry

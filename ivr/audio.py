"""From ``Play`` actions to 20 ms A-law frames: an audio library filled off the tick, and a per-call
playback that the tick only slices.

``AudioLibrary`` turns an ``AudioItem`` into a Future of its A-law samples: TTS through ``ivr.tts``
(cached file, read in the worker), prompt files through ``ivr.prompts`` (converted once), both on
worker threads, kept in memory afterwards (bounded). ``preload(flow)`` asks for every fixed prompt
of a flow when it is loaded, so the first caller already hears cached audio.

``Playback`` holds one call's current ``Play``. ``frame()`` is what the daemon's tick calls for the
leg: a numpy slice (or silence while an item is still being synthesised), no I/O, no waiting. When
the last item has been sent, ``frame()`` returns the play id once in ``finished`` so the loop can
report ``PromptDone``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ivr import say
from ivr.events import AudioItem, PromptFile, TtsText
from ivr.flow import Flow
from ivr.prompts import Prompts
from ivr.tts import Tts, load_alaw

FRAME = 160  # samples per 20 ms tick at 8 kHz
ALAW_SILENCE = 0xD5


class AudioLibrary:
    """A-law samples for audio items, produced on worker threads and kept (up to ``max_items``)."""

    def __init__(self, tts: Tts, prompts: Prompts, workers: int = 2, max_bytes: int = 64 << 20) -> None:
        self.tts, self.prompts = tts, prompts
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ivr-audio")
        self._lock = threading.Lock()
        self._items: OrderedDict[AudioItem, Future[np.ndarray]] = OrderedDict()
        self.max_bytes = max_bytes  # samples kept in memory; least recently used go first
        self.bytes = 0

    def get(self, item: AudioItem) -> Future[np.ndarray]:
        """The item's samples (uint8 A-law, 8 kHz); failed items resolve to the exception."""
        with self._lock:
            fut = self._items.get(item)
            if fut is not None and not (fut.done() and fut.exception() is not None):
                self._items.move_to_end(item)
                return fut
            # new, or failed before (engine down, file fixed since): try again
            if fut is not None:
                del self._items[item]
            fut = Future()
            self._items[item] = fut
            self._evict()
        fut.add_done_callback(self._count)
        if isinstance(item, TtsText):
            self.tts.request(item.text, item.voice, callback=lambda f: self._submit(fut, self._read, f, fut))
        else:
            self._pool.submit(self._load, item, fut)
        return fut

    def _submit(self, fut: Future[np.ndarray], fn, *args) -> None:
        """Read on the pool; once the library is closed (the daemon stopping while speech was still
        being synthesised) ``fut`` fails instead of the TTS callback raising."""
        try:
            self._pool.submit(fn, *args)
        except RuntimeError as exc:
            fut.set_exception(exc)

    def _count(self, fut: Future[np.ndarray]) -> None:
        if fut.exception() is None:
            with self._lock:
                self.bytes += fut.result().nbytes
                self._evict()

    def _evict(self) -> None:
        """Drop least recently used finished items until within ``max_bytes`` (lock held).
        A Playback that already holds an item's Future keeps its samples alive until it is done."""
        for key in list(self._items):
            if self.bytes <= self.max_bytes:
                break
            f = self._items[key]
            if f.done():
                del self._items[key]
                if f.exception() is None:
                    self.bytes -= f.result().nbytes

    def _read(self, tts_fut: Future, fut: Future[np.ndarray]) -> None:
        try:
            fut.set_result(load_alaw(tts_fut.result()))
        except Exception as exc:  # noqa: BLE001 - handed on through the Future
            fut.set_exception(exc)

    def _load(self, item: PromptFile, fut: Future[np.ndarray]) -> None:
        try:
            fut.set_result(self.prompts.load(item.path, item.name).samples)
        except Exception as exc:  # noqa: BLE001
            fut.set_exception(exc)

    def preload(self, flow: Flow) -> list[Future[np.ndarray]]:
        """Ask for every fixed prompt of ``flow`` (TTS texts without templates, files, say fragments).
        Until an item is ready a Playback plays silence in its place, so the daemon should let these
        finish before the flow takes calls."""
        items: list[AudioItem] = [TtsText(t, v) for t, v in flow.tts_texts()]
        items += [PromptFile(p.name, p.file) for p in flow.prompts.values() if p.file]
        if flow.say_mode == "fragments" and flow.fragment_dir:
            items += [PromptFile(n, str(Path(flow.fragment_dir) / f"{n}.wav")) for n in say.FRAGMENT_NAMES]
        return [self.get(i) for i in items]

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class Playback:
    """One call's prompt output, cut into frames on the tick."""

    def __init__(self, library: AudioLibrary) -> None:
        self.library = library
        self.play_id: int | None = None
        self._queue: list[Future[np.ndarray]] = []
        self._pos = 0
        self.failed: list[str] = []  # items that could not be produced (skipped), for the log

    def play(self, play_id: int, items: tuple[AudioItem, ...] | list[AudioItem]) -> None:
        """Replace whatever plays with these items (called on the loop, not the tick)."""
        self.play_id = play_id
        self._queue = [self.library.get(i) for i in items]
        self._pos = 0

    def stop(self, play_id: int | None = None) -> None:
        if play_id is None or play_id == self.play_id:
            self.play_id = None
            self._queue = []

    def frame(self) -> tuple[np.ndarray, int | None]:
        """The next 160 A-law samples, and the id of a play that has just ended (else None)."""
        out = np.full(FRAME, ALAW_SILENCE, dtype=np.uint8)
        if self.play_id is None:
            return out, None
        filled = 0
        while filled < FRAME and self._queue:
            fut = self._queue[0]
            if not fut.done():
                return out, None  # still synthesising: silence now, carry on next tick
            if fut.exception() is not None:
                self.failed.append(str(fut.exception()))
                self._queue.pop(0)
                self._pos = 0
                continue
            samples = fut.result()
            take = min(FRAME - filled, len(samples) - self._pos)
            out[filled:filled + take] = samples[self._pos:self._pos + take]
            filled += take
            self._pos += take
            if self._pos >= len(samples):
                self._queue.pop(0)
                self._pos = 0
        if not self._queue:
            done, self.play_id = self.play_id, None
            return out, done
        return out, None

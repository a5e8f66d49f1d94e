"""Text to speech off the tick: a pluggable engine, a worker pool and an A-law file cache.

An engine turns (text, voice) into 8 kHz A-law bytes, blocking; the default is espeak-ng's Mandarin
voice piped through sox. ``Tts`` runs engines on worker threads (the work is in subprocesses, so
threads do not hold the GIL) and keeps every result as a raw A-law file named by the hash of
(engine id, voice, text) in a cache directory, written atomically (temp file, fsync, rename,
fsync of the directory). A repeated prompt is a file that is already there: no engine call.

The daemon calls ``Tts.request(text)`` from its loop and gets a ``concurrent.futures.Future`` of
the file's path; ``asyncio.wrap_future`` or ``add_done_callback`` + ``loop.call_soon_threadsafe``
bring the "ready" back to the loop as an event. Nothing here ever runs on the 20 ms tick.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

DEFAULT_VOICE = "cmn-latn-pinyin"  # not "cmn": in espeak-ng 1.51 that reads hanzi as English-spelled pinyin
SAMPLE_RATE = 8000


class TtsError(Exception):
    """Synthesis failed (engine missing, unknown voice, empty result)."""


@runtime_checkable
class TtsEngine(Protocol):
    """A speech synthesiser. ``cache_id`` names the engine and anything that changes its output."""

    cache_id: str
    default_voice: str

    def synthesize(self, text: str, voice: str) -> bytes:
        """Speak ``text`` with ``voice``; return 8 kHz mono A-law bytes. Blocking; called off the tick."""
        ...


def _run(cmd: list[str], data: bytes, timeout: float) -> bytes:
    try:
        proc = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise TtsError(f"{cmd[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise TtsError(f"{cmd[0]} took longer than {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise TtsError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def wav_to_alaw(wav: bytes, gain_db: float | None = None, timeout: float = 30.0) -> bytes:
    """Any WAV (bytes) to 8 kHz mono raw A-law with sox; ``gain_db`` normalises the peak to that level."""
    effects = ["gain", "-n", str(gain_db)] if gain_db is not None else []
    return _run(["sox", "-V1", "-t", "wav", "-", "-t", "raw", "-e", "a-law", "-b", "8", "-r", str(SAMPLE_RATE),
                 "-c", "1", "-", *effects], wav, timeout)


class EspeakEngine:
    """espeak-ng → WAV on stdout → sox → 8 kHz A-law, peak normalised to ``peak_dbfs``."""

    default_voice = DEFAULT_VOICE

    def __init__(self, speed_wpm: int = 150, peak_dbfs: float = -4.0, timeout: float = 30.0) -> None:
        self.speed_wpm, self.peak_dbfs, self.timeout = speed_wpm, peak_dbfs, timeout
        self.cache_id = f"espeak-ng/s{speed_wpm}/p{peak_dbfs:g}"

    _voices: frozenset[str] | None = None

    @classmethod
    def voices(cls) -> frozenset[str]:
        """The voice names espeak-ng knows (it silently falls back to English for any other)."""
        if cls._voices is None:
            out = _run(["espeak-ng", "--voices"], b"", 10.0).decode(errors="replace")
            names = set()
            for line in out.splitlines()[1:]:
                cols = line.split()
                if len(cols) >= 5:
                    names.update((cols[1].lower(), cols[4].lower(), cols[4].split("/")[-1].lower()))
            cls._voices = frozenset(names)
        return cls._voices

    def synthesize(self, text: str, voice: str) -> bytes:
        if not text.strip():
            raise TtsError("nothing to say: empty text")
        if voice.lower() not in self.voices():
            raise TtsError(f"espeak-ng has no voice {voice!r}")
        wav = _run(["espeak-ng", "-v", voice, "-s", str(self.speed_wpm), "--stdout"], text.encode("utf-8"),
                   self.timeout)
        if len(wav) <= 44:
            raise TtsError(f"espeak-ng gave no audio for voice {voice!r}")
        audio = wav_to_alaw(wav, self.peak_dbfs, self.timeout)
        if not audio:
            raise TtsError("sox gave no audio")
        return audio


class CommandEngine:
    """Any synthesiser run as a command that reads UTF-8 text on stdin and writes a WAV on stdout;
    ``{voice}`` in the arguments is replaced by the voice. E.g. another Mandarin engine:
    ``CommandEngine(["my-tts", "--voice", "{voice}", "--wav", "-"], "my-tts", "zh")``."""

    def __init__(self, argv: list[str], name: str, default_voice: str, peak_dbfs: float = -4.0,
                 timeout: float = 30.0) -> None:
        self.argv, self.default_voice, self.peak_dbfs, self.timeout = list(argv), default_voice, peak_dbfs, timeout
        self.cache_id = f"{name}/{' '.join(argv)}/p{peak_dbfs:g}"

    def synthesize(self, text: str, voice: str) -> bytes:
        if not text.strip():
            raise TtsError("nothing to say: empty text")
        wav = _run([a.replace("{voice}", voice) for a in self.argv], text.encode("utf-8"), self.timeout)
        if not wav.startswith(b"RIFF"):
            raise TtsError(f"{self.argv[0]} did not write a WAV on stdout")
        return wav_to_alaw(wav, self.peak_dbfs, self.timeout)


def cache_key(engine: TtsEngine, voice: str, text: str) -> str:
    """The cache file name stem for (engine, voice, text)."""
    blob = json.dumps([engine.cache_id, voice, text], ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file, or the whole new one, never part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_alaw(path: Path | str) -> np.ndarray:
    """A cached prompt's samples: raw A-law bytes as a uint8 array (decode with hal.dsp.g711)."""
    return np.fromfile(path, dtype=np.uint8)


class Tts:
    """Cached, asynchronous speech: ``request`` returns a Future of the A-law file's path."""

    def __init__(self, cache_dir: Path | str, engine: TtsEngine | None = None, workers: int = 2) -> None:
        self.cache_dir = Path(cache_dir)
        self.engine: TtsEngine = engine or EspeakEngine()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tts")
        self._lock = threading.Lock()
        self._pending: dict[str, Future[Path]] = {}

    def path_for(self, text: str, voice: str | None = None) -> Path:
        key = cache_key(self.engine, voice or self.engine.default_voice, text)
        return self.cache_dir / key[:2] / f"{key}.alaw"

    def cached(self, text: str, voice: str | None = None) -> Path | None:
        """The file if this text was synthesised before, else None (one stat; no synthesis)."""
        path = self.path_for(text, voice)
        return path if path.exists() else None

    def request(self, text: str, voice: str | None = None,
                callback: Callable[[Future[Path]], None] | None = None) -> Future[Path]:
        """Start (or join) synthesis of ``text``; the Future's result is the A-law file's path.

        ``callback(future)`` runs when it is ready: at once in the calling thread on a cache hit,
        else in a worker thread (hand it to the event loop with ``call_soon_threadsafe``).
        Errors arrive as ``TtsError`` from ``future.result()``.
        """
        voice = voice or self.engine.default_voice
        path = self.path_for(text, voice)
        with self._lock:
            fut = self._pending.get(path.name)
            if fut is None:
                fut = Future()
                if path.exists():
                    _touch(path)
                    fut.set_result(path)
                else:
                    self._pending[path.name] = fut
                    self._pool.submit(self._work, fut, text, voice, path)
        if callback is not None:
            fut.add_done_callback(callback)
        return fut

    def synthesize(self, text: str, voice: str | None = None, timeout: float | None = 60.0) -> Path:
        """Blocking convenience for tools and prefetch: request and wait."""
        return self.request(text, voice).result(timeout)

    def _work(self, fut: Future[Path], text: str, voice: str, path: Path) -> None:
        try:
            audio = self.engine.synthesize(text, voice)
            write_atomic(path, audio)
        except Exception as exc:  # noqa: BLE001 - every failure goes back through the Future
            err = exc if isinstance(exc, TtsError) else TtsError(f"{type(exc).__name__}: {exc}")
            with self._lock:
                self._pending.pop(path.name, None)
            fut.set_exception(err)
            return
        with self._lock:
            self._pending.pop(path.name, None)
        fut.set_result(path)

    def prune(self, max_bytes: int) -> int:
        """``prune_cache`` of this cache."""
        return prune_cache(self.cache_dir, max_bytes)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


def prune_cache(cache_dir: Path | str, max_bytes: int) -> int:
    """Delete the least recently used files of the cache in ``cache_dir`` until it holds at most
    ``max_bytes`` (dynamic texts such as an integrator's answers would otherwise pile up). Blocking: run
    it on a worker. Returns the number of files removed."""
    files = []
    for f in Path(cache_dir).glob("*/*.alaw"):
        try:
            st = f.stat()
        except FileNotFoundError:
            continue
        files.append((st.st_mtime, st.st_size, f))
    total = sum(size for _, size, _ in files)
    removed = 0
    for _, size, f in sorted(files):
        if total <= max_bytes:
            break
        f.unlink(missing_ok=True)
        total -= size
        removed += 1
    return removed


def _touch(path: Path) -> None:
    """Mark a cache hit as recently used (for ``prune``)."""
    with contextlib.suppress(OSError):
        os.utime(path)

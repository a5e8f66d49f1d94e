"""Recorded prompts: WAV files in any common form, converted once to 8 kHz A-law on load.

A prompt file may be A-law, mu-law or PCM WAV at any sample rate, mono or stereo; ``Prompts.load``
checks it, converts it with sox (resample, mix down to mono) into the cache directory, keyed by the
file's content, and returns the A-law samples. Loading happens when a flow is loaded, off the tick;
playing is then a slice of an array. Every failure is a ``PromptError`` naming the prompt and file.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ivr.tts import SAMPLE_RATE, write_atomic

_CONVERSION = "sox-alaw-8k-mono/1"


class PromptError(Exception):
    """A prompt file is missing, unreadable or not usable audio."""


@dataclass(frozen=True)
class Prompt:
    name: str
    source: Path
    alaw_path: Path  # the converted file in the cache (the source itself if it was 8 kHz mono A-law)
    samples: np.ndarray  # uint8 A-law, 8 kHz mono

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def alaw_8k_mono_data(data: bytes) -> bytes | None:
    """The samples of a WAV that is already 8 kHz mono A-law (no conversion needed), else None."""
    pos, fmt_ok = 12, False
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt " and len(body) >= 16:
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            fmt_ok = (tag, channels, rate, bits) == (6, 1, SAMPLE_RATE, 8)
        elif cid == b"data":
            return body if fmt_ok and body else None
        pos += 8 + size + (size & 1)
    return None


def _check_wav(name: str, path: Path, head: bytes) -> None:
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        raise PromptError(f"prompt {name!r}: {path} is not a WAV file (starts with {head[:12]!r})")


class Prompts:
    """Loads prompt files into 8 kHz A-law, caching the converted audio in ``cache_dir``."""

    def __init__(self, cache_dir: Path | str) -> None:
        self.cache_dir = Path(cache_dir)
        self._loaded: dict[Path, Prompt] = {}

    def load(self, path: Path | str, name: str | None = None) -> Prompt:
        """The prompt in ``path`` as A-law; converted with sox the first time this content is seen."""
        path = Path(path)
        name = name or path.stem
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise PromptError(f"prompt {name!r}: file not found: {path}") from None
        except IsADirectoryError:
            raise PromptError(f"prompt {name!r}: {path} is a directory, not a WAV file") from None
        except OSError as exc:
            raise PromptError(f"prompt {name!r}: cannot read {path}: {exc.strerror}") from None
        _check_wav(name, path, data[:12])
        direct = alaw_8k_mono_data(data)
        if direct is not None:  # already 8 kHz mono A-law (voicemail messages, prepared prompts): no copy
            prompt = Prompt(name, path, path, np.frombuffer(direct, dtype=np.uint8))
            self._loaded[path] = prompt
            return prompt
        key = hashlib.sha256(_CONVERSION.encode() + b"\0" + data).hexdigest()
        out = self.cache_dir / f"{key}.alaw"
        if not out.exists():
            write_atomic(out, self._convert(name, path, data))
        samples = np.fromfile(out, dtype=np.uint8)
        prompt = Prompt(name, path, out, samples)
        self._loaded[path] = prompt
        return prompt

    def _convert(self, name: str, path: Path, data: bytes) -> bytes:
        cmd = ["sox", "-V1", "-t", "wav", "-", "-t", "raw", "-e", "a-law", "-b", "8", "-r", str(SAMPLE_RATE),
               "-c", "1", "-"]
        try:
            proc = subprocess.run(cmd, input=data, capture_output=True, timeout=60, check=False)
        except FileNotFoundError:
            raise PromptError("sox is not installed (needed to convert prompt files)") from None
        except subprocess.TimeoutExpired:
            raise PromptError(f"prompt {name!r}: converting {path} took too long") from None
        if proc.returncode != 0:
            why = proc.stderr.decode(errors="replace").strip().replace("sox FAIL formats: ", "")
            raise PromptError(f"prompt {name!r}: {path} is not usable audio: {why}")
        if not proc.stdout:
            raise PromptError(f"prompt {name!r}: {path} holds no audio")
        return proc.stdout

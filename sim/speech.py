"""Speech the simulated far ends say: espeak-ng text rendered once to 8 kHz int16 and kept.

Rendering runs espeak-ng and sox (0.1-0.5 s a clip), so it is started on a worker thread as soon as
a scenario that needs it exists (``prepare``) and the tick only picks the finished clip up
(``clip``), waiting for it solely if the clip was asked for too soon after its scenario was made.

China's recorded network announcements (``ANNOUNCEMENTS``) are said in Mandarin, then in English,
as the carriers' are; ``announcement`` builds one pass of them, with or without the SIT-like
three-tone preamble (ITU-T E.180: 950 / 1400 / 1800 Hz, 330 ms each) some exchanges put in front.
"""

from __future__ import annotations

import subprocess
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from hal.clock import SAMPLE_RATE
from hal.dsp.tones import sine

MANDARIN = "cmn-latn-pinyin"  # not "cmn": Debian's espeak-ng 1.51 reads hanzi as English-spelled pinyin there
ENGLISH = "en"
GREETING = "喂，你好？"  # how a person in China answers the phone
PEAK_DBFS = -8.0  # speech peak: an average talker's level on a line, about -18 dBm0 while speaking

ANNOUNCEMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "busy": (("您拨打的电话正在通话中，请稍后再拨。", MANDARIN),
             ("Sorry, the subscriber you dialed is busy now, please redial later.", ENGLISH)),
    "off": (("您拨打的电话已关机。", MANDARIN),
            ("Sorry, the subscriber you dialed is power off.", ENGLISH)),
    "vacant": (("您拨打的电话是空号，请查证后再拨。", MANDARIN),
               ("Sorry, the number you dialed does not exist, please check it and dial later.", ENGLISH)),
}
SIT_HZ = (950.0, 1400.0, 1800.0)
SIT_MS = 330
SIT_LEVEL_DBM0 = -20.0
LANGUAGE_GAP_S = 0.6  # between the Mandarin and the English sentence

_pool = ThreadPoolExecutor(1, thread_name_prefix="sim-speech")
_lock = threading.Lock()
_clips: dict[tuple[str, str], Future[np.ndarray]] = {}


class SpeechError(RuntimeError):
    """espeak-ng or sox could not render a clip."""


def render(text: str, voice: str = MANDARIN) -> np.ndarray:
    """``text`` spoken by espeak-ng's ``voice``: 8 kHz int16, peak at ``PEAK_DBFS`` (blocking)."""
    try:
        wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, timeout=30,
                             check=True).stdout
        raw = subprocess.run(["sox", "-t", "wav", "-", "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1",
                              "-r", str(SAMPLE_RATE), "-L", "-", "gain", "-n", str(PEAK_DBFS)], input=wav,
                             capture_output=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise SpeechError(f"cannot render {text!r} with voice {voice}: {exc}") from exc
    out = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    if not len(out):
        raise SpeechError(f"espeak-ng gave no audio for {text!r} ({voice})")
    return out


def prepare(text: str, voice: str = MANDARIN) -> Future[np.ndarray]:
    """Start rendering ``text`` (once per text and voice); the future gives the samples."""
    key = (text, voice)
    with _lock:
        fut = _clips.get(key)
        if fut is None:
            fut = _clips[key] = _pool.submit(render, text, voice)
    return fut


def clip(text: str, voice: str = MANDARIN) -> np.ndarray:
    """The rendered samples of ``text`` (waits for ``prepare``'s work if it is still running)."""
    return prepare(text, voice).result(timeout=60)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def sit_tone() -> np.ndarray:
    """The three-tone special information tone: 950, 1400, 1800 Hz, 330 ms each, no gaps."""
    n = SIT_MS * SAMPLE_RATE // 1000
    return np.concatenate([sine(f, SIT_LEVEL_DBM0, n) for f in SIT_HZ])


def prepare_announcement(kind: str) -> None:
    for text, voice in _announcement_parts(kind):
        prepare(text, voice)


def announcement(kind: str, sit: bool) -> np.ndarray:
    """One pass of announcement ``kind`` (busy / off / vacant), with the SIT-like tones first if ``sit``."""
    parts = [clip(text, voice) for text, voice in _announcement_parts(kind)]
    pieces: list[np.ndarray] = [sit_tone(), silence(0.2)] if sit else []
    for i, p in enumerate(parts):
        pieces += [silence(LANGUAGE_GAP_S), p] if i else [p]
    return np.concatenate(pieces)


def _announcement_parts(kind: str) -> tuple[tuple[str, str], ...]:
    try:
        return ANNOUNCEMENTS[kind]
    except KeyError:
        raise ValueError(f"announcement must be one of {', '.join(ANNOUNCEMENTS)}") from None

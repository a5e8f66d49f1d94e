"""WAV files of recordings: the header (declared once, with ``construct``), reading, and repair.

A recording is 8000 Hz, either stereo (caller left, agent right) or mixed mono, either A-law
(``WAVE_FORMAT_ALAW`` = 6, 8 bits, with the ``fact`` chunk that non-PCM WAVs must carry) or 16-bit
linear PCM (``WAVE_FORMAT_PCM`` = 1). The header we write has a fixed size and layout:

    A-law: RIFF(12) + fmt (8 + 18, WAVEFORMATEX with cbSize 0) + fact (8 + 4) + data (8) = 58 bytes
    PCM:   RIFF(12) + fmt (8 + 16)                                       + data (8) = 44 bytes

The header is written once when the file is created (sizes 0) and patched with the real sizes when
the recording is finished. A file left by a crash has sizes that do not match the data on disk;
``repair`` truncates the data to whole sample frames and rewrites the sizes, so any reader (sox,
players) reads exactly the audio that reached the disk.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

import construct as c
import numpy as np

from hal.clock import SAMPLE_RATE
from hal.dsp.g711 import alaw_to_linear

WAVE_FORMAT_PCM = 1
WAVE_FORMAT_ALAW = 6


class Format(enum.Enum):
    """What a recording file holds: channel layout and sample encoding."""

    STEREO_ALAW = "stereo-alaw"
    STEREO_PCM16 = "stereo-pcm16"
    MONO_ALAW = "mono-alaw"
    MONO_PCM16 = "mono-pcm16"

    @property
    def channels(self) -> int:
        return 2 if self.value.startswith("stereo") else 1

    @property
    def alaw(self) -> bool:
        return self.value.endswith("alaw")

    @property
    def sample_bytes(self) -> int:
        return 1 if self.alaw else 2

    @property
    def block_align(self) -> int:
        """Bytes per sample frame (one sample of every channel)."""
        return self.channels * self.sample_bytes

    @property
    def header_size(self) -> int:
        return 58 if self.alaw else 44

    @classmethod
    def parse(cls, value: str | Format) -> Format:
        return value if isinstance(value, Format) else cls(value)


_FMT_BODY = c.Struct(
    "format_tag" / c.Int16ul,
    "channels" / c.Int16ul,
    "sample_rate" / c.Int32ul,
    "byte_rate" / c.Int32ul,
    "block_align" / c.Int16ul,
    "bits_per_sample" / c.Int16ul,
    "cb_size" / c.If(c.this._.size >= 18, c.Int16ul),
)

_CHUNK_HEAD = c.Struct("id" / c.Bytes(4), "size" / c.Int32ul)

# The header as we write it (fixed layout; see the module docstring).
HEADER = c.Struct(
    "riff" / c.Const(b"RIFF"),
    "riff_size" / c.Int32ul,
    "wave" / c.Const(b"WAVE"),
    "fmt_id" / c.Const(b"fmt "),
    "size" / c.Int32ul,
    "fmt" / _FMT_BODY,
    "fact" / c.If(c.this.fmt.format_tag != WAVE_FORMAT_PCM, c.Struct(
        "id" / c.Const(b"fact"),
        "size" / c.Const(4, c.Int32ul),
        "frames" / c.Int32ul,
    )),
    "data_id" / c.Const(b"data"),
    "data_size" / c.Int32ul,
)


def header(fmt: Format, data_bytes: int = 0) -> bytes:
    """The header of a file of ``fmt`` holding ``data_bytes`` bytes of audio."""
    data_bytes -= data_bytes % fmt.block_align
    alaw = fmt.alaw
    return HEADER.build(dict(
        riff_size=fmt.header_size - 8 + data_bytes,
        size=18 if alaw else 16,
        fmt=dict(format_tag=WAVE_FORMAT_ALAW if alaw else WAVE_FORMAT_PCM, channels=fmt.channels,
                 sample_rate=SAMPLE_RATE, byte_rate=SAMPLE_RATE * fmt.block_align,
                 block_align=fmt.block_align, bits_per_sample=8 * fmt.sample_bytes,
                 cb_size=0 if alaw else None),
        fact=dict(frames=data_bytes // fmt.block_align) if alaw else None,
        data_size=data_bytes,
    ))


@dataclass(frozen=True)
class WavInfo:
    """What a WAV file's header says, and where its audio is."""

    format_tag: int
    channels: int
    sample_rate: int
    bits_per_sample: int
    block_align: int
    data_offset: int
    data_size: int  # as declared by the header
    fact_frames: int | None

    @property
    def frames(self) -> int:
        return self.data_size // self.block_align

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    @property
    def format(self) -> Format | None:
        """Our ``Format`` for this file, or None if it is not one we write."""
        if self.sample_rate != SAMPLE_RATE or self.channels not in (1, 2):
            return None
        enc = {(WAVE_FORMAT_ALAW, 8): "alaw", (WAVE_FORMAT_PCM, 16): "pcm16"}.get(
            (self.format_tag, self.bits_per_sample))
        if enc is None:
            return None
        return Format(f"{'stereo' if self.channels == 2 else 'mono'}-{enc}")


class WavError(ValueError):
    """The file is not a WAV we can read."""


def read_info(path: str | Path) -> WavInfo:
    """Walk the chunks of a WAV file (ours or anyone's, e.g. sox's) and describe it."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise WavError(f"{path}: not a RIFF/WAVE file")
        fmt = None
        fact = None
        while True:
            raw = f.read(8)
            if len(raw) < 8:
                raise WavError(f"{path}: no data chunk")
            ch = _CHUNK_HEAD.parse(raw)
            if ch.id == b"data":
                if fmt is None:
                    raise WavError(f"{path}: data before fmt")
                return WavInfo(fmt.format_tag, fmt.channels, fmt.sample_rate, fmt.bits_per_sample,
                               fmt.block_align, f.tell(), ch.size, fact)
            body = f.read(ch.size + (ch.size & 1))
            if ch.id == b"fmt ":
                if ch.size < 16:
                    raise WavError(f"{path}: short fmt chunk")
                try:
                    fmt = _FMT_BODY.parse(body[:ch.size], size=ch.size)
                except c.ConstructError as exc:
                    raise WavError(f"{path}: fmt chunk cut short") from exc
            elif ch.id == b"fact" and ch.size >= 4:
                fact = int.from_bytes(body[:4], "little")


def check_readable(path: str | Path, info: WavInfo) -> None:
    """Raise ``WavError`` unless ``read`` can decode the file (A-law or 16-bit PCM)."""
    if (info.format_tag, info.bits_per_sample) not in ((WAVE_FORMAT_ALAW, 8), (WAVE_FORMAT_PCM, 16)):
        raise WavError(f"{path}: format {info.format_tag}/{info.bits_per_sample} bits not supported")


def read(path: str | Path, start: int = 0, count: int | None = None,
         info: WavInfo | None = None) -> tuple[WavInfo, np.ndarray]:
    """The audio of a WAV file as 16-bit linear samples, shape (frames, channels): ``count`` sample
    frames from frame ``start`` (default: all of it), fewer at the end.

    Reads A-law and 16-bit PCM. Only the data the header declares (and that is on disk) is read.
    ``info`` (``read_info``'s) saves reading the header again for a file read piece by piece.
    """
    info = read_info(path) if info is None else info
    check_readable(path, info)
    frames = max(0, info.frames - start)
    if count is not None:
        frames = min(frames, count)
    with open(path, "rb") as f:
        f.seek(info.data_offset + start * info.block_align)
        raw = f.read(frames * info.block_align)
    raw = raw[: len(raw) - len(raw) % info.block_align]
    if info.format_tag == WAVE_FORMAT_ALAW:
        samples = alaw_to_linear(np.frombuffer(raw, np.uint8))
    else:
        samples = np.frombuffer(raw, "<i2").astype(np.int16)
    return info, samples.reshape(-1, info.channels)


def repair(path: str | Path, fmt: Format | None = None) -> WavInfo:
    """Make a partial file valid: sizes that match the data on disk, cut to whole sample frames.

    ``fmt`` is needed only when the header itself never reached the disk (a file cut inside its
    first bytes); then the file is rewritten as an empty recording of that format. Returns the
    repaired file's description. Idempotent; fsyncs the file.
    """
    path = Path(path)
    try:
        info: WavInfo | None = read_info(path)
    except WavError:
        info = None
    size = path.stat().st_size
    if info is not None:
        ours = info.format
        if ours is None or info.data_offset != ours.header_size:
            raise WavError(f"{path}: not a file this recorder wrote")
    elif fmt is None:
        raise WavError(f"{path}: header unreadable and no format given")
    else:
        ours = fmt
        size = max(size, fmt.header_size)  # the header never fully reached the disk: empty recording
    data = size - ours.header_size
    data -= data % ours.block_align
    fd = os.open(path, os.O_RDWR)
    try:
        os.ftruncate(fd, ours.header_size + data)
        os.pwrite(fd, header(ours, data), 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    return read_info(path)

"""WAV header, reader and repair, checked against sox (the real tool) and by measurement."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from recorder import wav
from recorder.wav import Format
from tests.unit.recorder.signals import corr, sox_samples, soxi, tone


def _stereo(ticks: int = 50) -> tuple[np.ndarray, np.ndarray]:
    return tone(400, ticks).reshape(-1), tone(1000, ticks).reshape(-1)


def _write(path: Path, fmt: Format, left: np.ndarray, right: np.ndarray, declared: int | None = None) -> bytes:
    if fmt.channels == 2:
        frames = np.stack([left, right], axis=1)
    else:
        frames = linear_to_alaw((alaw_to_linear(left).astype(np.int32) + alaw_to_linear(right)) // 2)[:, None]
    if not fmt.alaw:
        frames = alaw_to_linear(frames).astype("<i2")
    data = frames.tobytes()
    path.write_bytes(wav.header(fmt, len(data) if declared is None else declared) + data)
    return data


@pytest.mark.parametrize("fmt", list(Format))
def test_sox_reads_every_format(tmp_path: Path, fmt: Format) -> None:
    left, right = _stereo()
    path = tmp_path / "x.wav"
    _write(path, fmt, left, right)
    assert len(wav.header(fmt)) == fmt.header_size
    assert soxi(path, "-c") == str(fmt.channels)
    assert soxi(path, "-r") == "8000"
    assert soxi(path, "-e") == ("A-law" if fmt.alaw else "Signed Integer PCM")
    assert soxi(path, "-s") == str(len(left))
    by_sox = sox_samples(path)
    info, ours = wav.read(path)
    assert info.format is fmt and info.frames == len(left) and info.duration == pytest.approx(1.0)
    assert np.array_equal(by_sox, ours)  # our reader and sox decode the same samples
    if fmt.channels == 2:
        assert corr(ours[:, 0], alaw_to_linear(left)) > 0.99
        assert corr(ours[:, 1], alaw_to_linear(right)) > 0.99
        assert abs(corr(ours[:, 0], ours[:, 1])) < 0.1
    else:
        mix = alaw_to_linear(left).astype(float) + alaw_to_linear(right)
        assert corr(ours[:, 0], mix) > 0.99


@pytest.mark.parametrize("fmt", [Format.STEREO_ALAW, Format.STEREO_PCM16])
def test_ranged_reads_are_slices_of_the_whole(tmp_path: Path, fmt: Format) -> None:
    path = tmp_path / "x.wav"
    _write(path, fmt, *_stereo())
    info, whole = wav.read(path)
    for start, count in ((0, 160), (1000, 3000), (7900, 500), (8000, 10), (9000, None)):
        got_info, part = wav.read(path, start, count, info)
        assert got_info is info and np.array_equal(part, whole[start:None if count is None else start + count])
    assert np.array_equal(wav.read(path, 4000)[1], whole[4000:])


def test_alaw_header_has_fact_chunk(tmp_path: Path) -> None:
    h = wav.header(Format.STEREO_ALAW, 3200)
    assert h[12:16] == b"fmt " and int.from_bytes(h[20:22], "little") == wav.WAVE_FORMAT_ALAW
    assert h[38:42] == b"fact" and int.from_bytes(h[46:50], "little") == 1600
    assert h[50:54] == b"data" and int.from_bytes(h[54:58], "little") == 3200
    assert int.from_bytes(h[4:8], "little") == 58 - 8 + 3200


@pytest.mark.parametrize("fmt", [Format.STEREO_ALAW, Format.MONO_PCM16])
def test_repair_matches_header_to_data_on_disk(tmp_path: Path, fmt: Format) -> None:
    left, right = _stereo()
    path = tmp_path / "partial.wav"
    data = _write(path, fmt, left, right, declared=0)  # as left by a crash: sizes never patched
    with open(path, "ab") as f:
        f.write(b"\x01")  # half a sample frame (and for stereo A-law, half a frame)
    assert soxi(path, "-s") == "0"
    info = wav.repair(path)
    assert info.data_size == len(data) and info.frames == len(left)
    assert path.stat().st_size == fmt.header_size + len(data)
    assert soxi(path, "-s") == str(len(left))
    assert np.array_equal(sox_samples(path), wav.read(path)[1])
    assert wav.repair(path) == info  # idempotent


def test_repair_file_cut_inside_header(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    path.write_bytes(wav.header(Format.STEREO_ALAW)[:20])
    with pytest.raises(wav.WavError):
        wav.repair(path)
    info = wav.repair(path, Format.STEREO_ALAW)
    assert info.frames == 0 and soxi(path, "-c") == "2"


def test_reader_walks_foreign_chunks(tmp_path: Path) -> None:
    """A file written by sox (with its own chunk layout) is read like ours."""
    src = tmp_path / "ours.wav"
    _write(src, Format.STEREO_PCM16, *_stereo())
    out = tmp_path / "sox.wav"
    import subprocess
    subprocess.run(["sox", str(src), "-e", "a-law", str(out)], check=True)
    info, samples = wav.read(out)
    assert info.format is Format.STEREO_ALAW and info.frames == 8000
    assert corr(samples[:, 0], wav.read(src)[1][:, 0]) > 0.99


@pytest.mark.parametrize("fmt", list(Format))
def test_header_rate_fields_and_whole_frames(fmt: Format) -> None:
    """The fmt fields players use to seek and time a file, and sizes cut to whole sample frames."""
    h = wav.header(fmt, 3203)
    assert int.from_bytes(h[22:24], "little") == fmt.channels
    assert int.from_bytes(h[24:28], "little") == 8000
    assert int.from_bytes(h[28:32], "little") == 8000 * fmt.channels * fmt.sample_bytes  # byte rate
    assert int.from_bytes(h[32:34], "little") == fmt.channels * fmt.sample_bytes  # block align
    assert int.from_bytes(h[34:36], "little") == 8 * fmt.sample_bytes
    whole = 3203 - 3203 % (fmt.channels * fmt.sample_bytes)
    assert int.from_bytes(h[-4:], "little") == whole


def _with_odd_chunk(fmt: Format, audio: bytes) -> bytes:
    """Our header with a 3-byte LIST chunk (and its pad byte) put before the data chunk."""
    h = wav.header(fmt, len(audio))
    extra = b"LIST" + (3).to_bytes(4, "little") + b"abc\x00"
    riff = int.from_bytes(h[4:8], "little") + len(extra)
    return h[:4] + riff.to_bytes(4, "little") + h[8:-8] + extra + h[-8:] + audio


def test_reader_skips_an_odd_sized_chunk_with_its_pad_byte(tmp_path: Path) -> None:
    left, right = _stereo()
    audio = np.stack([left, right], axis=1).tobytes()
    path = tmp_path / "odd.wav"
    path.write_bytes(_with_odd_chunk(Format.STEREO_ALAW, audio))
    info, samples = wav.read(path)
    assert info.frames == len(left) and info.data_offset == 58 + 12
    assert np.array_equal(samples, sox_samples(path))


def test_repair_refuses_a_file_of_another_layout_and_leaves_it_alone(tmp_path: Path) -> None:
    left, right = _stereo()
    path = tmp_path / "foreign.wav"
    raw = _with_odd_chunk(Format.STEREO_ALAW, np.stack([left, right], axis=1).tobytes())
    path.write_bytes(raw)
    with pytest.raises(wav.WavError):
        wav.repair(path)
    assert path.read_bytes() == raw


def test_a_file_shorter_than_its_header_says_reads_whole_frames(tmp_path: Path) -> None:
    """A crash left 501 bytes of 16-bit stereo (125 frames and a quarter) after a header declaring more."""
    path = tmp_path / "short.wav"
    audio = np.arange(1000, dtype="<i2").tobytes()[:501]
    path.write_bytes(wav.header(Format.STEREO_PCM16, 4000) + audio)
    info, samples = wav.read(path)
    assert samples.shape == (125, 2) and samples[-1].tolist() == [248, 249]


def test_repair_syncs_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A repaired header must reach the disk before the recording is indexed as complete."""
    path = tmp_path / "partial.wav"
    _write(path, Format.STEREO_ALAW, *_stereo(), declared=0)
    synced: list[int] = []
    real = wav.os.fsync
    monkeypatch.setattr(wav.os, "fsync", lambda fd: (synced.append(os.fstat(fd).st_ino), real(fd))[1])
    wav.repair(path)
    assert synced == [path.stat().st_ino]

"""WAV header, reader and repair, checked against sox (the real tool) and by measurement."""

from __future__ import annotations

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

"""Caller ID: FSK bursts decoded frame by frame (clean, through A-law, attenuated, noisy, corrupted),
their level and tones, and DTMF caller ID."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from hal.dsp.callerid import (
    CallerId,
    DtmfCallerIdDecoder,
    FskCallerIdReceiver,
    dtmf_cid_encode,
    fsk_encode,
)
from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.measure import SAMPLE_RATE, dominant_frequency, level_dbm0
from hal.dsp.spandsp import ADSI_STANDARD_CLASS, ffi, lib

WHEN = dt.datetime(dt.datetime.now().year, 3, 5, 14, 7)
TAIL = np.zeros(800, dtype=np.int16)  # 100 ms of line silence after the burst


def decode(signal: np.ndarray, frame: int = 160) -> list[CallerId]:
    """Every CallerId a fresh receiver returns when ``signal`` is fed ``frame`` samples at a time."""
    rx = FskCallerIdReceiver()
    signal = np.concatenate([signal, TAIL])
    out = []
    for i in range(0, len(signal), frame):
        cid = rx.process(signal[i:i + frame])
        if cid is not None:
            out.append(cid)
    return out


def raw_burst(msg: bytes) -> np.ndarray:
    """A burst carrying ``msg`` exactly as given (spandsp adds only the checksum)."""
    tx = ffi.gc(lib.adsi_tx_init(ffi.NULL, ADSI_STANDARD_CLASS), lib.adsi_tx_free)
    assert lib.adsi_tx_put_message(tx, msg, len(msg)) > 0
    buf = np.zeros(8000 * 3, dtype=np.int16)
    n = lib.adsi_tx(tx, ffi.from_buffer("int16_t[]", buf), len(buf))
    return buf[:n].copy()


def band_power(x: np.ndarray, lo: float, hi: float) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    return float(spectrum[(freqs >= lo) & (freqs <= hi)].sum() / spectrum.sum())


def instantaneous_frequency(x: np.ndarray) -> np.ndarray:
    """Hz per sample, from the analytic signal (edges trimmed)."""
    n = len(x)
    h = np.zeros(n)
    h[0] = 1
    h[1:(n + 1) // 2] = 2
    if n % 2 == 0:
        h[n // 2] = 1
    analytic = np.fft.ifft(np.fft.fft(x.astype(np.float64)) * h)
    return (np.diff(np.unwrap(np.angle(analytic))) * SAMPLE_RATE / (2 * np.pi))[50:-50]


# ---- FSK round trips ------------------------------------------------------------------------------

MDMF_CASES = [
    CallerId(number="13800138000", name="Zhang Wei", when=WHEN),
    CallerId(number="01062345678", name="张伟", when=WHEN),
    CallerId(number="075512345678", name="深圳市腾讯计算机系统有限公司", when=WHEN),
    CallerId(number="1234567890123456", name="ABCDEFGHIJKLMNOP", when=WHEN),  # 16-byte fields (0x10)
    CallerId(number="88888888", when=WHEN),
    CallerId(absent_reason="P", when=WHEN),
    CallerId(absent_reason="O", when=WHEN),
]


@pytest.mark.parametrize("cid", MDMF_CASES, ids=lambda c: f"{c.number}-{c.name}-{c.absent_reason}")
def test_mdmf_round_trip(cid: CallerId) -> None:
    assert decode(fsk_encode(cid, mdmf=True)) == [cid]


@pytest.mark.parametrize("cid", [
    CallerId(number="13800138000", when=WHEN),
    CallerId(absent_reason="P", when=WHEN),
    CallerId(absent_reason="O", when=WHEN),
])
def test_sdmf_round_trip(cid: CallerId) -> None:
    assert decode(fsk_encode(cid, mdmf=False)) == [cid]


def test_sdmf_drops_the_name() -> None:
    cid = CallerId(number="13800138000", name="张伟", when=WHEN)
    assert decode(fsk_encode(cid, mdmf=False)) == [CallerId(number="13800138000", when=WHEN)]


def test_when_defaults_to_now_and_is_read_back_in_the_current_year() -> None:
    before = dt.datetime.now().replace(second=0, microsecond=0)
    (got,) = decode(fsk_encode(CallerId(number="12345")))
    after = dt.datetime.now().replace(second=0, microsecond=0)
    assert got.number == "12345"
    assert got.when is not None and before <= got.when <= after
    assert got.when.year == dt.datetime.now().year


def test_overlong_name_is_cut_to_fit_the_message() -> None:
    cid = CallerId(number="13800138000", name="名" * 200, when=WHEN)  # 600 UTF-8 bytes
    (got,) = decode(fsk_encode(cid))
    assert got.number == "13800138000"
    assert got.name is not None and 50 <= len(got.name) < 200 and set(got.name) == {"名"}


@pytest.mark.parametrize("frame", [1, 37, 160, 333, 100000])
def test_any_frame_length_decodes_once(frame: int) -> None:
    cid = CallerId(number="13800138000", name="张伟", when=WHEN)
    assert decode(fsk_encode(cid), frame=frame) == [cid]


def test_two_bursts_give_two_caller_ids() -> None:
    a = CallerId(number="111222", when=WHEN)
    b = CallerId(absent_reason="P", when=WHEN)
    gap = np.zeros(4000, dtype=np.int16)
    assert decode(np.concatenate([fsk_encode(a), gap, fsk_encode(b, mdmf=False)])) == [a, b]


# ---- through the line ------------------------------------------------------------------------------

CID = CallerId(number="13912345678", name="李娜", when=WHEN)


def test_round_trip_through_alaw_attenuated_20_db() -> None:
    burst = fsk_encode(CID).astype(np.float64) * 10 ** (-20 / 20)
    line = alaw_to_linear(linear_to_alaw(np.round(burst).astype(np.int16)))
    assert level_dbm0(line[:-400]) == pytest.approx(-33, abs=1)
    assert decode(line) == [CID]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_round_trip_through_alaw_with_noise_at_20_db_snr(seed: int) -> None:
    burst = fsk_encode(CID).astype(np.float64)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(burst.size)
    signal_power = np.mean(burst[:-400] ** 2)
    noise *= np.sqrt(signal_power / 10 ** (20 / 10))
    noisy = np.clip(np.round(burst + noise), -32768, 32767).astype(np.int16)
    line = alaw_to_linear(linear_to_alaw(noisy))
    snr = 10 * np.log10(signal_power / np.mean((line.astype(np.float64) - burst) ** 2))
    assert snr == pytest.approx(20, abs=1)
    assert decode(line) == [CID]


# ---- the burst itself ------------------------------------------------------------------------------

def test_burst_level_and_tones() -> None:
    burst = fsk_encode(CID)
    assert level_dbm0(burst) == pytest.approx(-13, abs=2)
    sig = burst[:-400]
    assert level_dbm0(sig) == pytest.approx(-13, abs=0.5)
    assert band_power(sig, 700, 2700) > 0.95  # all in the Bell 202 band
    assert dominant_frequency(sig) == pytest.approx(1200, abs=20)  # mark: seizure half, mark, stop bits
    # Phase-continuous FSK: the instantaneous frequency sits on mark (1200 Hz) or space (2200 Hz).
    f = instantaneous_frequency(sig)
    at_mark, at_space = np.mean(np.abs(f - 1200) < 100), np.mean(np.abs(f - 2200) < 100)
    assert at_mark > 0.3 and at_space > 0.2 and at_mark + at_space > 0.7
    message = instantaneous_frequency(sig[(300 + 180) * 20 // 3:])
    assert np.mean(np.abs(message - 2200) < 100) > 0.3 and np.mean(np.abs(message - 1200) < 100) > 0.2


def test_burst_has_seizure_then_mark_then_silence() -> None:
    burst = fsk_encode(CID)
    seizure = instantaneous_frequency(burst[:2000])  # 300 alternating bits = 250 ms
    assert np.mean(np.abs(seizure - 1200) < 100) > 0.2 and np.mean(np.abs(seizure - 2200) < 100) > 0.2
    mark = burst[2100:3100]  # then 180 mark bits = 150 ms
    assert dominant_frequency(mark) == pytest.approx(1200, abs=10)
    assert band_power(mark, 1900, 2500) < 0.01
    assert np.all(burst[-400:] == 0)  # 50 ms of silence so a receiver sees the end
    assert np.any(burst[-500:-400] != 0)
    # seizure + mark + (2 + 2+8 + 2+11 + 2+6 + 1) bytes of 10 bits + 5 stop bits at 1200 baud + 50 ms
    expected = (300 + 180 + 34 * 10 + 5) / 1200 * 8000 + 400
    assert len(burst) == pytest.approx(expected, abs=20)


# ---- what must not decode --------------------------------------------------------------------------

def test_corrupted_burst_gives_none() -> None:
    burst = fsk_encode(CID)
    assert decode(burst) == [CID]  # the control
    bad = burst.copy()
    mid = len(bad) // 2 + 1000  # inside the message, past seizure and mark
    bad[mid:mid + 120] = bad[mid:mid + 120][::-1]
    bad[mid + 200:mid + 260] = -bad[mid + 200:mid + 260]
    assert decode(bad) == []


@pytest.mark.parametrize("msg", [
    bytes([0x80, 6, 0x02, 9, b"1"[0], b"2"[0], b"3"[0], b"4"[0]]),  # field runs past the end
    bytes([0x80, 0]),  # no fields
    bytes([0x80, 4, 0x03, 2, 0x31, 0x32]),  # only a field we do not know
    bytes([0x04, 5]) + b"12345",  # SDMF too short for its date
    bytes([0x04, 9]) + b"1399abcdP",  # SDMF with a bad date
    bytes([0x06, 3, 0x42, 0x42, 0x42]),  # message waiting, not caller ID
    bytes([0x80, 5, 0x02, 3, 0x01, 0x02, 0x03]),  # number of control bytes
])
def test_malformed_messages_with_good_checksums_give_none(msg: bytes) -> None:
    assert decode(raw_burst(msg)) == []


@pytest.mark.parametrize(("msg", "want"), [
    # an MDMF date that is not digits: the number still comes through, without a time
    (bytes([0x80, 20, 0x01, 8]) + b"03AB1407" + bytes([0x02, 8]) + b"88888888",
     CallerId(number="88888888")),
    # a number and an "absent" field both sent: the number wins and nothing is reported absent
    (bytes([0x80, 13, 0x02, 8]) + b"88888888" + bytes([0x04, 1]) + b"P",
     CallerId(number="88888888")),
], ids=["bad-date", "number-and-absent"])
def test_mdmf_odd_but_usable_messages(msg: bytes, want: CallerId) -> None:
    assert decode(raw_burst(msg)) == [want]


def test_ten_seconds_of_noise_give_none() -> None:
    rng = np.random.default_rng(7)
    for level in (0.0, -13.0, -40.0):
        amp = 22870 * 10 ** (level / 20)
        noise = np.clip(rng.standard_normal(SAMPLE_RATE * 5) * amp, -32768, 32767).astype(np.int16)
        assert decode(noise) == []


def test_random_bytes_in_frames_never_raise() -> None:
    rng = np.random.default_rng(11)
    rx = FskCallerIdReceiver()
    for _ in range(50):
        assert rx.process(rng.integers(-32768, 32767, 160, dtype=np.int16)) is None
    assert rx.process(np.zeros(0, dtype=np.int16)) is None


def test_float_frames_are_accepted() -> None:
    burst = fsk_encode(CID).astype(np.float64)
    rx = FskCallerIdReceiver()
    got = [c for i in range(0, burst.size + 800, 160) if (c := rx.process(np.r_[burst, np.zeros(800)][i:i + 160]))]
    assert got == [CID]


# ---- DTMF caller ID --------------------------------------------------------------------------------

def dtmf_decode(digits: str, start_ms: int = 0, step_ms: int = 140, end_ms: int | None = None) -> list[CallerId]:
    dec = DtmfCallerIdDecoder()
    out = []
    ms = start_ms
    for d in digits:
        got = dec.feed(d, ms)
        if got is not None:
            out.append(got)
        ms += step_ms
    end = ms + 2000 if end_ms is None else end_ms
    for t in range(ms, end, 20):
        got = dec.poll(t)
        if got is not None:
            out.append(got)
    return out


def test_dtmf_encode() -> None:
    assert dtmf_cid_encode(CallerId(number="13800138000")) == "A13800138000C"
    assert dtmf_cid_encode(CallerId(absent_reason="P")) == "B10C"
    assert dtmf_cid_encode(CallerId(absent_reason="O")) == "B00C"
    assert dtmf_cid_encode(CallerId()) == "B00C"


@pytest.mark.parametrize("cid", [
    CallerId(number="13800138000"),
    CallerId(number="075512345678"),
    CallerId(absent_reason="P"),
    CallerId(absent_reason="O"),
])
def test_dtmf_round_trip(cid: CallerId) -> None:
    assert dtmf_decode(dtmf_cid_encode(cid)) == [cid]


def test_dtmf_hash_terminated_d_style_is_a_number() -> None:
    assert dtmf_decode("D13800138000#") == [CallerId(number="13800138000")]


def test_dtmf_terminator_completes_at_once() -> None:
    dec = DtmfCallerIdDecoder()
    for i, d in enumerate("A12345"):
        assert dec.feed(d, i * 140) is None
    assert dec.feed("C", 6 * 140) == CallerId(number="12345")
    assert all(dec.poll(t) is None for t in range(900, 3000, 20))  # once only


def test_dtmf_missing_terminator_completes_500_ms_after_the_last_digit() -> None:
    dec = DtmfCallerIdDecoder()
    for i, d in enumerate("A13800138000"):
        assert dec.feed(d, i * 140) is None
    last = 11 * 140
    assert [dec.poll(t) for t in range(last, last + 500, 20)] == [None] * 25
    assert dec.poll(last + 500) == CallerId(number="13800138000")
    assert all(dec.poll(t) is None for t in range(last + 520, last + 3000, 20))


def test_dtmf_too_short_unterminated_message_is_dropped() -> None:
    assert dtmf_decode("A1") == []
    assert dtmf_decode("A12") == [CallerId(number="12")]  # 3 digits with the start symbol


def test_dtmf_digits_before_the_start_are_ignored() -> None:
    assert dtmf_decode("5551234A13800138000C") == [CallerId(number="13800138000")]
    assert dtmf_decode("123456789C#") == []


def test_dtmf_new_start_restarts_the_message() -> None:
    assert dtmf_decode("A99A12345C") == [CallerId(number="12345")]


def test_dtmf_star_aborts_the_message() -> None:
    assert dtmf_decode("A123*456C") == []


def test_dtmf_feed_after_a_missed_poll_still_completes() -> None:
    dec = DtmfCallerIdDecoder()
    for i, d in enumerate("A123456"):
        dec.feed(d, i * 140)
    assert dec.feed("7", 10_000) == CallerId(number="123456")  # digit outside a message: ignored
    assert dec.poll(20_000) is None


def test_dtmf_bad_absence_code_is_dropped() -> None:
    assert dtmf_decode("B12C") == []

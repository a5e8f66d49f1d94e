"""Caller ID: FSK (Bell 202 / CLASS, MDMF and SDMF) and DTMF caller ID, send and receive.

``CallerId`` is what travels. ``fsk_encode`` makes the whole on-hook FSK burst with spandsp's
``adsi_tx`` (``ADSI_STANDARD_CLASS``, which spandsp lists for China); ``FskCallerIdReceiver``
decodes it frame by frame with ``adsi_rx`` and ``adsi_next_field``. ``dtmf_cid_encode`` and
``DtmfCallerIdDecoder`` do the DTMF variant ("A<number>C", "B10C" withheld, "B00C" unavailable) that
some exchanges send instead (facts: shared/reference/china-telephony.md, "Analog lines").

Two spandsp 0.0.6 faults are worked around here:

* ``adsi_add_field`` for CLASS doubles a field length byte of 0x10 (JCLIP's DLE stuffing leaks into
  CLASS), corrupting any 16-byte field, so messages are built in Python (same TLV layout) and handed
  to ``adsi_tx_put_message``, which adds the length byte and the checksum.
* ``adsi_rx`` keeps fsk_rx's default carrier cut-off (-30 dBm0), so a burst 20 dB below the nominal
  -13 dBm0 is never heard. Its ``fsk_rx_state_t`` sits at a fixed offset inside the receiver (after
  ``int standard; put_msg; user_data``); the offset is checked against the state's own contents
  before ``fsk_rx_signal_cutoff`` is called on it, and left alone if the check fails.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from cffi import FFI

from hal.dsp.measure import level_dbm0
from hal.dsp.spandsp import ADSI_STANDARD_CLASS, SONAME, ffi, lib


@dataclass(frozen=True)
class CallerId:
    number: str | None = None
    name: str | None = None
    when: dt.datetime | None = None
    absent_reason: str | None = None  # "P" private / withheld, "O" unavailable, when number is None


# ---- message layout (Bellcore GR-30 CLASS, as spandsp's adsi.h names it) ---------------------------

CLASS_SDMF_CALLERID = 0x04
CLASS_MDMF_CALLERID = 0x80
MCLASS_DATETIME = 0x01
MCLASS_CALLER_NUMBER = 0x02
MCLASS_ABSENCE1 = 0x04  # number absent: "P" private, "O" out of area / unavailable
MCLASS_CALLER_NAME = 0x07
MCLASS_ABSENCE2 = 0x08  # name absent

MAX_MESSAGE = 255  # adsi_tx_put_message refuses longer (its buffer also holds the checksum)
MAX_FIELD = 255

FSK_LEVEL_DBM0 = -13.0
SEIZURE_BITS = 300  # channel seizure: alternating 0/1 (GR-30: 300 bits)
MARK_BITS = 180  # mark before the message (GR-30: 180 bits on-hook; spandsp's default is 80)
POSTAMBLE_BITS = 5
TAIL_SILENCE_SAMPLES = 400  # 50 ms, so a receiver sees the burst end
FRAME = 160

RX_CUTOFF_DBM0 = -45.0  # carrier-detect threshold for the receiver (spandsp's default: -30 dBm0)

# fsk_rx_signal_cutoff is not in the shared binding; a private FFI keeps this module self-contained.
_ext = FFI()
_ext.cdef("""
typedef struct { int standard; void *put_msg; void *user_data; } cid_adsi_rx_head_t;
typedef struct { int baud_rate; int framing_mode; void *put_bit; void *put_bit_user_data; } cid_fsk_rx_head_t;
void fsk_rx_signal_cutoff(void *s, float cutoff);
""")
_extlib = _ext.dlopen(SONAME)
_FSKRX_OFFSET = _ext.sizeof("cid_adsi_rx_head_t")


def _set_rx_cutoff(rx, cutoff_dbm0: float) -> bool:
    """Lower the carrier cut-off of an ADSI receiver's FSK demodulator; False if the layout looks wrong."""
    addr = int(ffi.cast("uintptr_t", rx))
    head = _ext.cast("cid_adsi_rx_head_t *", addr)
    fsk = _ext.cast("cid_fsk_rx_head_t *", addr + _FSKRX_OFFSET)
    if head.standard != ADSI_STANDARD_CLASS or fsk.baud_rate not in (1200, 120000):
        return False
    if int(_ext.cast("uintptr_t", fsk.put_bit_user_data)) != addr:  # fsk_rx reports bits to the adsi state
        return False
    _extlib.fsk_rx_signal_cutoff(_ext.cast("void *", addr + _FSKRX_OFFSET), cutoff_dbm0)
    return True


# ---- text fields --------------------------------------------------------------------------------------

def _encode_text(text: str, limit: int) -> bytes:
    """ASCII if the text is ASCII, else UTF-8 (not standard, but symmetric with the receiver), cut to
    ``limit`` bytes without splitting a character."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raw = text.encode("utf-8")
    if len(raw) <= limit:
        return raw
    return raw[:limit].decode("utf-8", errors="ignore").encode("utf-8")


def _decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _absent(cid: CallerId) -> bytes:
    return b"P" if cid.absent_reason == "P" else b"O"


def _mmddhhmm(when: dt.datetime | None) -> bytes:
    when = when or dt.datetime.now()
    return when.strftime("%m%d%H%M").encode("ascii")


def _build_message(cid: CallerId, mdmf: bool) -> bytes:
    """The CLASS message without its checksum (type, length, body)."""
    if not mdmf:
        body = _mmddhhmm(cid.when)
        body += _encode_text(cid.number, MAX_MESSAGE - 2 - len(body)) if cid.number else _absent(cid)
        return bytes([CLASS_SDMF_CALLERID, len(body)]) + body
    fields: list[tuple[int, bytes]] = [(MCLASS_DATETIME, _mmddhhmm(cid.when))]
    if cid.number:
        fields.append((MCLASS_CALLER_NUMBER, _encode_text(cid.number, 64)))
    else:
        fields.append((MCLASS_ABSENCE1, _absent(cid)))
    used = 2 + sum(2 + len(b) for _, b in fields)
    if cid.name:
        name = _encode_text(cid.name, min(MAX_FIELD, MAX_MESSAGE - used - 2))
        fields.append((MCLASS_CALLER_NAME, name) if name else (MCLASS_ABSENCE2, _absent(cid)))
    else:
        fields.append((MCLASS_ABSENCE2, _absent(cid)))
    body = b"".join(bytes([t, len(b)]) + b for t, b in fields)
    return bytes([CLASS_MDMF_CALLERID, len(body)]) + body


# ---- FSK transmit -------------------------------------------------------------------------------------

def fsk_encode(cid: CallerId, mdmf: bool = True) -> np.ndarray:
    """The whole on-hook caller-ID burst (int16, 8 kHz, -13 dBm0): channel seizure, mark, the MDMF
    or SDMF message with its checksum, a few stop bits, then 50 ms of silence."""
    msg = _build_message(cid, mdmf)
    tx = ffi.gc(lib.adsi_tx_init(ffi.NULL, ADSI_STANDARD_CLASS), lib.adsi_tx_free)
    if tx == ffi.NULL:
        raise MemoryError("adsi_tx_init failed")
    lib.adsi_tx_set_preamble(tx, SEIZURE_BITS, MARK_BITS, POSTAMBLE_BITS, 1)
    # The message must be in place before the first adsi_tx: the modem starts at init and would
    # otherwise send an empty message after the preamble.
    if lib.adsi_tx_put_message(tx, msg, len(msg)) <= 0:
        raise ValueError(f"adsi_tx_put_message refused a {len(msg)}-byte message")
    chunk = 1024
    buf = np.zeros(chunk, dtype=np.int16)
    cbuf = ffi.from_buffer("int16_t[]", buf)
    parts = []
    limit = 8000 * 10  # a 255-byte message with its preamble is ~2.5 s; never loop forever
    total = 0
    while total < limit:
        n = lib.adsi_tx(tx, cbuf, chunk)
        if n > 0:
            parts.append(buf[:n].copy())
            total += n
        if n < chunk:
            break
    sig = np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)
    if sig.size:  # spandsp's Bell 202 level is -14 dBm0; FSK has a constant envelope, so scale it
        sig *= 10 ** ((FSK_LEVEL_DBM0 - level_dbm0(sig)) / 20)
    out = np.zeros(sig.size + TAIL_SILENCE_SAMPLES, dtype=np.int16)
    out[:sig.size] = np.clip(np.round(sig), -32768, 32767)
    return out


# ---- FSK receive --------------------------------------------------------------------------------------

@ffi.callback("void(void *, const uint8_t *, int)")
def _on_message(user_data, msg, length) -> None:
    if length > 0:
        ffi.from_handle(user_data).append(bytes(ffi.buffer(msg, length)))


def _parse_when(raw: bytes) -> dt.datetime | None:
    if len(raw) != 8 or not raw.isdigit():
        return None
    month, day, hour, minute = (int(raw[i:i + 2]) for i in range(0, 8, 2))
    try:
        return dt.datetime(dt.datetime.now().year, month, day, hour, minute)
    except ValueError:
        return None


def _is_number(raw: bytes) -> bool:
    return bool(raw) and all(0x20 <= b < 0x7F for b in raw)


class FskCallerIdReceiver:
    """Decodes on-hook FSK caller ID: ``process(frame)`` returns a ``CallerId`` once per message."""

    def __init__(self, cutoff_dbm0: float = RX_CUTOFF_DBM0) -> None:
        self._raw: list[bytes] = []
        self._handle = ffi.new_handle(self._raw)
        self._callback = _on_message  # module-level, but held here too: it must outlive the state
        rx = lib.adsi_rx_init(ffi.NULL, ADSI_STANDARD_CLASS, self._callback, self._handle)
        if rx == ffi.NULL:
            raise MemoryError("adsi_rx_init failed")
        self._rx = ffi.gc(rx, lib.adsi_rx_free)
        self.cutoff_set = _set_rx_cutoff(self._rx, cutoff_dbm0)
        self._buf = np.zeros(FRAME, dtype=np.int16)
        self._cbuf = ffi.from_buffer("int16_t[]", self._buf)
        self._msg = ffi.new("uint8_t[]", 260)  # room past the end: adsi_next_field may peek 2 bytes on
        self._ftype = ffi.new("uint8_t *")
        self._fbody = ffi.new("uint8_t **")
        self._flen = ffi.new("int *")
        self._ready: list[CallerId] = []
        self.messages = 0  # checksummed messages heard
        self.rejected = 0  # of those, not a caller ID we could parse

    def process(self, frame: np.ndarray) -> CallerId | None:
        x = np.asarray(frame)
        if x.dtype != np.int16:
            x = np.clip(np.round(x.astype(np.float64)), -32768, 32767).astype(np.int16)
        n = x.shape[0]
        if n == FRAME:
            self._buf[:] = x
            lib.adsi_rx(self._rx, self._cbuf, FRAME)
        else:
            for i in range(0, n, FRAME):
                part = x[i:i + FRAME]
                self._buf[:part.shape[0]] = part
                lib.adsi_rx(self._rx, self._cbuf, part.shape[0])
        while self._raw:
            self.messages += 1
            cid = self._parse(self._raw.pop(0))
            if cid is None:
                self.rejected += 1
            else:
                self._ready.append(cid)
        return self._ready.pop(0) if self._ready else None

    def _fields(self, msg: bytes) -> list[tuple[int, bytes]] | None:
        """[(message type, b"")] + the fields, by adsi_next_field; None if the structure is corrupt."""
        n = len(msg)
        if n < 2 or n > 256 or msg[1] != n - 2:
            return None
        ffi.memmove(self._msg, msg, n)
        ffi.memmove(self._msg + n, b"\0\0\0\0", 4)
        out = []
        pos = 0
        while True:
            pos = lib.adsi_next_field(self._rx, self._msg, n, pos, self._ftype, self._fbody, self._flen)
            if pos == -1:
                return out
            if pos < 0:
                return None
            length = self._flen[0]
            body = bytes(ffi.buffer(self._fbody[0], length)) if length > 0 else b""
            out.append((self._ftype[0], body))
            if len(out) > 64:
                return None

    def _parse(self, msg: bytes) -> CallerId | None:
        try:
            fields = self._fields(msg)
            if not fields:
                return None
            mtype = fields[0][0]
            if mtype == CLASS_SDMF_CALLERID:
                return self._parse_sdmf(fields[1:])
            if mtype == CLASS_MDMF_CALLERID:
                return self._parse_mdmf(fields[1:])
            return None  # message waiting and the like
        except Exception:  # a malformed message is no caller ID, never an error
            return None

    @staticmethod
    def _parse_sdmf(fields: list[tuple[int, bytes]]) -> CallerId | None:
        if len(fields) != 1:
            return None
        body = fields[0][1]
        when = _parse_when(body[:8])
        rest = body[8:]
        if when is None or not rest:
            return None
        if rest in (b"P", b"O"):
            return CallerId(when=when, absent_reason=rest.decode())
        if not _is_number(rest):
            return None
        return CallerId(number=rest.decode("ascii"), when=when)

    @staticmethod
    def _parse_mdmf(fields: list[tuple[int, bytes]]) -> CallerId | None:
        number = name = absent = name_absent = None
        when = None
        known = False
        for ftype, body in fields:
            if ftype == MCLASS_DATETIME:
                when = _parse_when(body)
                known = True
            elif ftype == MCLASS_CALLER_NUMBER:
                if not _is_number(body):
                    return None
                number = body.decode("ascii").strip() or None
                known = True
            elif ftype == MCLASS_ABSENCE1:
                absent = "P" if body[:1] == b"P" else "O"
                known = True
            elif ftype == MCLASS_CALLER_NAME:
                name = _decode_text(body) or None
                known = True
            elif ftype == MCLASS_ABSENCE2:
                name_absent = "P" if body[:1] == b"P" else "O"
                known = True
            # other fields (dialled number, redirection, ...) are skipped
        if not known or (number is None and absent is None and name is None and name_absent is None):
            return None
        if number is not None:
            absent = None
        elif absent is None:
            absent = name_absent or "O"
        return CallerId(number=number, name=name, when=when, absent_reason=absent)


# ---- DTMF caller ID -----------------------------------------------------------------------------------

DTMF_CID_TIMEOUT_MS = 500
DTMF_CID_MIN_DIGITS = 3  # digits received (start symbol included) for a message completed by timeout


def dtmf_cid_encode(cid: CallerId) -> str:
    """The DTMF caller-ID string, ETSI / China "C-terminated" style: ``A<number>C``, or ``B10C``
    (withheld) / ``B00C`` (unavailable) when there is no number."""
    if cid.number:
        digits = "".join(c for c in cid.number if c.isdigit())
        if digits:
            return "A" + digits + "C"
    return "B" + ("10" if cid.absent_reason == "P" else "00") + "C"


class DtmfCallerIdDecoder:
    """Assembles DTMF caller ID from detected digits. ``feed(digit, ms)`` for each digit, ``poll(ms)``
    every frame; each returns a ``CallerId`` once when a message completes.

    Accepted: ``A<digits>C`` (number), ``B10C`` (withheld), ``B00C`` (unavailable), and
    ``D<digits>#`` (number). A message whose terminator never comes is completed
    ``DTMF_CID_TIMEOUT_MS`` after its last digit if it has at least ``DTMF_CID_MIN_DIGITS`` digits.
    Digits outside a message are ignored.
    """

    STARTS = "ABD"
    TERMINATORS = "C#"

    def __init__(self) -> None:
        self._start: str | None = None
        self._digits: list[str] = []
        self._last_ms = 0

    def feed(self, digit: str, ms: int) -> CallerId | None:
        digit = digit.upper()
        result = None
        if self._start is not None and ms - self._last_ms >= DTMF_CID_TIMEOUT_MS:
            result = self._finish(by_timeout=True)  # poll was not called in time
        if digit in self.STARTS:
            self._start, self._digits, self._last_ms = digit, [], ms  # a new message (restarts one)
            return result
        if self._start is None:
            return result  # outside a message
        if digit in self.TERMINATORS:
            return self._finish(by_timeout=False) or result
        if digit.isdigit():
            self._digits.append(digit)
            self._last_ms = ms
            return result
        self._reset()  # '*' or another letter inside a message: not caller ID
        return result

    def poll(self, ms: int) -> CallerId | None:
        if self._start is not None and ms - self._last_ms >= DTMF_CID_TIMEOUT_MS:
            return self._finish(by_timeout=True)
        return None

    def _reset(self) -> None:
        self._start = None
        self._digits = []

    def _finish(self, by_timeout: bool) -> CallerId | None:
        start, digits = self._start, "".join(self._digits)
        self._reset()
        if by_timeout and 1 + len(digits) < DTMF_CID_MIN_DIGITS:
            return None
        if start == "B":
            if digits == "10":
                return CallerId(absent_reason="P")
            if digits == "00":
                return CallerId(absent_reason="O")
            return None
        if not digits:
            return None
        return CallerId(number=digits)

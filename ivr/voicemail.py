"""Voicemail storage: boxes (per extension, agent or queue) with greeting, PIN and limits; messages that
survive kill -9 once acknowledged; new/saved folders; PIN lockout.

Layout under ``root``: ``boxes/<box>/<message id>.wav`` (8 kHz A-law WAV, playable anywhere) and
``greetings/<box>.wav``; the index (boxes, messages, PIN failures) is LMDB, opened with
``sync=True, metasync=True`` - either its own environment in ``root/index`` or the daemon's, passed
in as ``env`` (the named databases are ``vm.boxes`` and ``vm.msgs``).

A message is written while the caller speaks (``MessageWriter.write`` appends, off the tick); at the
end (``#``, silence, maximum length or hang-up) ``finish`` fsyncs the file, renames it into place,
fsyncs the directory and commits the index entry - only then is the message acknowledged. A kill
between those steps leaves a file that ``recover`` (run when the store opens) finishes and indexes,
so even a message cut off by the crash itself keeps what reached the disk.

All of it is blocking file and LMDB work: the daemon runs it on a worker thread, never on the tick.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import secrets
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import lmdb
import numpy as np

SAMPLE_RATE = 8000
BOX_KINDS = ("extension", "agent", "queue")
_BOX_ID = re.compile(r"^(extension|agent|queue):[A-Za-z0-9_\-]{1,32}$")
_PIN = re.compile(r"^[0-9]{4,12}$")
_HEADER = struct.Struct("<4sI4s4sIHHIIHHH4sII4sI")  # RIFF, WAVE, fmt (18), fact, data
HEADER_SIZE = _HEADER.size


class VoicemailError(Exception):
    """A voicemail request that cannot be done (unknown box, box full, bad PIN format ...)."""


def alaw_wav_header(n_samples: int) -> bytes:
    """A WAV header for ``n_samples`` of 8 kHz mono A-law (format tag 6)."""
    return _HEADER.pack(b"RIFF", 4 + 26 + 12 + 8 + n_samples, b"WAVE", b"fmt ", 18, 6, 1, SAMPLE_RATE,
                        SAMPLE_RATE, 1, 8, 0, b"fact", 4, n_samples, b"data", n_samples)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _hash_pin(pin: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, 20_000).hex()


@dataclass(frozen=True)
class Box:
    id: str  # "extension:8001", "agent:A12", "queue:booking"
    max_message_s: float = 120.0
    max_messages: int = 100
    notify_extension: str | None = None  # whose phone gets the stutter dial tone


@dataclass(frozen=True)
class Message:
    id: str
    box: str
    folder: str  # new | saved
    caller: str
    received: float  # epoch seconds
    seconds: float
    file: str


@dataclass(frozen=True)
class PinResult:
    ok: bool
    locked: bool = False
    remaining: int = 0  # wrong tries left before lockout
    locked_until: float = 0.0
    tried: bool = True  # False: refused unchecked (the box was locked already)


class MessageWriter:
    """One message being left: ``write`` A-law while the caller speaks, then ``finish`` (durable)."""

    def __init__(self, store: Voicemail, box: Box, msg_id: str, caller: str, received: float) -> None:
        self.store, self.box, self.id, self.caller, self.received = store, box, msg_id, caller, received
        self.part = store.box_dir(box.id) / f"{msg_id}.part"
        self.max_samples = int(box.max_message_s * SAMPLE_RATE)
        self.samples = 0
        # who called and when, for a message that recovery has to finish after a crash
        _write_durable(self.part.with_suffix(".json"), json.dumps({"caller": caller, "received": received}).encode())
        self._f = open(self.part, "wb")  # noqa: SIM115 - open across write() calls, closed in finish()
        self._f.write(alaw_wav_header(0))

    @property
    def full(self) -> bool:
        return self.samples >= self.max_samples

    def write(self, alaw: bytes | np.ndarray) -> bool:
        """Append samples (cut at the box's maximum length); False once the maximum is reached."""
        data = bytes(np.asarray(alaw, dtype=np.uint8)) if not isinstance(alaw, bytes) else alaw
        data = data[:max(0, self.max_samples - self.samples)]
        self._f.write(data)
        self._f.flush()  # into the kernel: a kill -9 of the daemon no longer loses it
        self.samples += len(data)
        return not self.full

    def finish(self) -> Message:
        """Make the message durable and indexed; return it (this is the acknowledgement)."""
        self._f.seek(0)
        self._f.write(alaw_wav_header(self.samples))
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        final = self.part.with_suffix(".wav")
        os.replace(self.part, final)
        _fsync_dir(final.parent)
        msg = Message(self.id, self.box.id, "new", self.caller, self.received, self.samples / SAMPLE_RATE,
                      str(final))
        self.store.add_to_index(msg)
        return msg

    def abandon(self) -> None:
        """Throw the message away (e.g. shorter than the box's minimum)."""
        self._f.close()
        self.part.unlink(missing_ok=True)
        self.part.with_suffix(".json").unlink(missing_ok=True)


class Voicemail:
    """The voicemail store. ``on_change(box_id, new, saved)`` is called after every change (for the
    message-waiting indicator and the API's ``voicemail.changed`` event)."""

    def __init__(self, root: Path | str, env: lmdb.Environment | None = None, *, wrong_pins: int = 3,
                 lockout_s: float = 900.0, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        (self.root / "boxes").mkdir(parents=True, exist_ok=True)
        (self.root / "greetings").mkdir(parents=True, exist_ok=True)
        self._own_env = env is None
        self.env = env or lmdb.open(str(self.root / "index"), map_size=64 << 20, max_dbs=4, sync=True,
                                    metasync=True, subdir=True)
        self.boxes_db = self.env.open_db(b"vm.boxes")
        self.msgs_db = self.env.open_db(b"vm.msgs")
        self.wrong_pins, self.lockout_s, self.clock = wrong_pins, lockout_s, clock
        self.on_change: list[Callable[[str, int, int], None]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self.recovered = self.recover()

    def close(self) -> None:
        if self._own_env:
            self.env.close()

    # ---- boxes ------------------------------------------------------------------------------------------

    def configure(self, box: Box, pin: str | None = None) -> None:
        """Create or update a box (limits); set its PIN if given. Keeps messages and PIN failures."""
        if not _BOX_ID.match(box.id):
            raise VoicemailError(f"box id {box.id!r} must be extension:N, agent:N or queue:NAME")
        if pin is not None and not _PIN.match(pin):
            raise VoicemailError("a PIN is 4 to 12 digits")
        with self.env.begin(write=True, db=self.boxes_db) as txn:
            raw = txn.get(box.id.encode())
            rec = json.loads(raw) if raw else {"failures": 0, "locked_until": 0.0}
            rec["box"] = asdict(box)
            if pin is not None:
                salt = secrets.token_bytes(16)
                rec["salt"], rec["pin"] = salt.hex(), _hash_pin(pin, salt)
            txn.put(box.id.encode(), json.dumps(rec).encode())
        self.box_dir(box.id).mkdir(parents=True, exist_ok=True)

    def box(self, box_id: str) -> Box:
        return Box(**self._box_rec(box_id)["box"])

    def _box_rec(self, box_id: str) -> dict:
        with self.env.begin(db=self.boxes_db) as txn:
            raw = txn.get(box_id.encode())
        if raw is None:
            raise VoicemailError(f"no voicemail box {box_id!r}")
        return json.loads(raw)

    def box_dir(self, box_id: str) -> Path:
        """The folder of box ``box_id``'s message files."""
        return self.root / "boxes" / box_id.replace(":", "_")

    # ---- PIN ----------------------------------------------------------------------------------------------

    def check_pin(self, box_id: str, pin: str) -> PinResult:
        """Check a PIN; ``wrong_pins`` wrong ones in a row lock the box for ``lockout_s`` (kept across restarts)."""
        now = self.clock()
        with self.env.begin(write=True, db=self.boxes_db) as txn:
            raw = txn.get(box_id.encode())
            if raw is None:
                raise VoicemailError(f"no voicemail box {box_id!r}")
            rec = json.loads(raw)
            if rec.get("locked_until", 0) > now:
                return PinResult(False, locked=True, locked_until=rec["locked_until"], tried=False)
            if "pin" in rec and _hash_pin(pin, bytes.fromhex(rec["salt"])) == rec["pin"]:
                rec["failures"], rec["locked_until"] = 0, 0.0
                txn.put(box_id.encode(), json.dumps(rec).encode())
                return PinResult(True, remaining=self.wrong_pins)
            rec["failures"] = rec.get("failures", 0) + 1
            result = PinResult(False, remaining=max(0, self.wrong_pins - rec["failures"]))
            if rec["failures"] >= self.wrong_pins:
                rec["failures"], rec["locked_until"] = 0, now + self.lockout_s
                result = PinResult(False, locked=True, locked_until=rec["locked_until"])
            txn.put(box_id.encode(), json.dumps(rec).encode())
            return result

    def unlock(self, box_id: str) -> None:
        with self.env.begin(write=True, db=self.boxes_db) as txn:
            rec = json.loads(txn.get(box_id.encode()) or b"null") or {}
            if not rec:
                raise VoicemailError(f"no voicemail box {box_id!r}")
            rec["failures"], rec["locked_until"] = 0, 0.0
            txn.put(box_id.encode(), json.dumps(rec).encode())

    # ---- greeting -----------------------------------------------------------------------------------------

    def set_greeting(self, box_id: str, alaw: bytes | np.ndarray) -> Path:
        self.box(box_id)
        data = bytes(np.asarray(alaw, dtype=np.uint8)) if not isinstance(alaw, bytes) else alaw
        path = self.root / "greetings" / f"{box_id.replace(':', '_')}.wav"
        _write_durable(path, alaw_wav_header(len(data)) + data)
        return path

    def greeting(self, box_id: str) -> Path | None:
        path = self.root / "greetings" / f"{box_id.replace(':', '_')}.wav"
        return path if path.exists() else None

    # ---- messages -----------------------------------------------------------------------------------------

    def start_message(self, box_id: str, caller: str = "") -> MessageWriter:
        """Begin a message (the caller has heard the greeting and the beep)."""
        box = self.box(box_id)
        new, saved = self.counts(box_id)
        if new + saved >= box.max_messages:
            raise VoicemailError(f"voicemail box {box_id!r} is full ({box.max_messages} messages)")
        now = self.clock()
        with self._lock:
            msg_id = f"{int(now * 1000):013d}-{os.getpid() % 100000:05d}-{next(self._seq):06d}"
        self.box_dir(box_id).mkdir(parents=True, exist_ok=True)
        return MessageWriter(self, box, msg_id, caller, now)

    def deposit(self, box_id: str, alaw: bytes | np.ndarray, caller: str = "") -> Message:
        """Leave a whole message at once (start, write, finish)."""
        w = self.start_message(box_id, caller)
        w.write(alaw)
        return w.finish()

    def _key(self, box_id: str, msg_id: str) -> bytes:
        return f"{box_id}/{msg_id}".encode()

    def add_to_index(self, msg: Message) -> None:
        """Index a message made durable (``MessageWriter.finish``); its box's listeners are told."""
        with self.env.begin(write=True, db=self.msgs_db) as txn:
            txn.put(self._key(msg.box, msg.id), json.dumps(asdict(msg)).encode())
        self._changed(msg.box)

    def messages(self, box_id: str, folder: str | None = None) -> list[Message]:
        """Messages of a box, oldest first; ``folder`` "new" or "saved" to filter."""
        prefix = f"{box_id}/".encode()
        out = []
        with self.env.begin(db=self.msgs_db) as txn:
            cur = txn.cursor()
            if cur.set_range(prefix):
                for k, v in cur:
                    if not k.startswith(prefix):
                        break
                    m = Message(**json.loads(v))
                    if folder is None or m.folder == folder:
                        out.append(m)
        return out

    def counts(self, box_id: str) -> tuple[int, int]:
        """(new, saved) message counts."""
        msgs = self.messages(box_id)
        new = sum(m.folder == "new" for m in msgs)
        return new, len(msgs) - new

    def audio(self, msg: Message) -> np.ndarray:
        """A message's A-law samples."""
        data = Path(msg.file).read_bytes()
        return np.frombuffer(data[HEADER_SIZE:], dtype=np.uint8)

    def save(self, box_id: str, msg_id: str) -> Message:
        """Move a message to the saved folder (after it was heard)."""
        key = self._key(box_id, msg_id)
        with self.env.begin(write=True, db=self.msgs_db) as txn:
            raw = txn.get(key)
            if raw is None:
                raise VoicemailError(f"no message {msg_id!r} in {box_id!r}")
            msg = Message(**{**json.loads(raw), "folder": "saved"})
            txn.put(key, json.dumps(asdict(msg)).encode())
        self._changed(box_id)
        return msg

    def delete(self, box_id: str, msg_id: str) -> None:
        key = self._key(box_id, msg_id)
        with self.env.begin(write=True, db=self.msgs_db) as txn:
            raw = txn.get(key)
            if raw is None:
                raise VoicemailError(f"no message {msg_id!r} in {box_id!r}")
            txn.delete(key)
        path = Path(json.loads(raw)["file"])
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)
        _fsync_dir(path.parent)
        self._changed(box_id)

    def _changed(self, box_id: str) -> None:
        new, saved = self.counts(box_id)
        for cb in self.on_change:
            cb(box_id, new, saved)

    # ---- recovery -----------------------------------------------------------------------------------------

    def recover(self) -> list[Message]:
        """Finish and index what a crash left: ``.part`` files (cut-off messages) and unindexed ``.wav``."""
        found: list[Message] = []
        with self.env.begin(db=self.boxes_db) as txn:
            boxes = [k.decode() for k, _ in txn.cursor()]
        for box_id in boxes:
            d = self.box_dir(box_id)
            if not d.is_dir():
                continue
            for part in sorted(d.glob("*.part")):
                n = max(0, part.stat().st_size - HEADER_SIZE)
                if n == 0:
                    part.unlink()
                    continue
                with open(part, "r+b") as f:
                    f.write(alaw_wav_header(n))
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(part, part.with_suffix(".wav"))
                _fsync_dir(d)
            for wav in sorted(d.glob("*.wav")):
                with self.env.begin(db=self.msgs_db) as txn:
                    if txn.get(self._key(box_id, wav.stem)) is not None:
                        continue
                n = max(0, wav.stat().st_size - HEADER_SIZE)
                try:
                    meta = json.loads(wav.with_suffix(".json").read_bytes())
                except (OSError, ValueError):
                    meta = {"caller": "", "received": wav.stat().st_mtime}
                msg = Message(wav.stem, box_id, "new", str(meta.get("caller", "")),
                              float(meta.get("received", 0.0)), n / SAMPLE_RATE, str(wav))
                self.add_to_index(msg)
                found.append(msg)
        return found

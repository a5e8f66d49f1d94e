"""OpenR2 1.3.3 as the far end of a simulated E1 span: build the C harness, run it, bridge it to the
simulator's ``spanN.peer`` socket.

``build_harness()`` compiles ``harness.c`` (gcc, libopenr2-dev, dahdi-source headers) once per
source change. ``Harness`` runs it and steps it one 20 ms tick at a time (its wire format is in
harness.c); its events ("EV ch name key=value") are collected with their arrival time.
``PeerBridge`` connects to ``spanN.peer`` and, for every TICK from the simulator, steps the
harness with the host's CAS bits and audio of the harness's timeslots and answers with a TX: the
harness's bits and audio, and, on an answered channel, the test's talk tone. Audio heard on
answered channels is recorded for measurement. ``OpenR2Pair`` steps two harnesses against each
other (OpenR2 -> OpenR2, the benchmark's reference).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

from hal import boardlink
from hal.boardlink import MsgType
from hal.dsp.g711 import linear_to_alaw
from hal.dsp.tones import sine
from hal.events import CasChange, SetCas
from hal.ports import E1_BEARER_TIMESLOTS

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "harness.c"
FRAME = 160
SILENCE = 0xD5


class HarnessUnavailable(RuntimeError):
    """gcc, libopenr2-dev or the DAHDI headers are missing."""


def build_harness(out_dir: Path | None = None) -> Path:
    """Compile the harness (cached by source hash); returns the executable's path."""
    if shutil.which("gcc") is None:
        raise HarnessUnavailable("gcc is not installed")
    if not Path("/usr/include/openr2.h").exists() or not Path("/usr/include/dahdi/user.h").exists():
        raise HarnessUnavailable("libopenr2-dev / dahdi-source headers are not installed (scripts/setup.sh)")
    out_dir = out_dir or Path(os.environ.get("CALLBOX_BUILD_DIR", "/tmp/callbox-build"))
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    exe = out_dir / f"openr2_harness-{digest}"
    if exe.exists():
        return exe
    # the interop tests run side by side: one process compiles while the others wait for it, and the
    # executable appears whole, by rename, never written where another process may be running it
    with open(out_dir / "openr2_harness.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not exe.exists():
            tmp = exe.with_name(f".{exe.name}.{os.getpid()}.tmp")
            try:
                subprocess.run(["gcc", "-O1", "-Wall", "-U_FORTIFY_SOURCE", "-o", str(tmp), str(SOURCE),
                                "-lopenr2", "-Wl,--export-dynamic"], check=True, capture_output=True)
                os.replace(tmp, exe)
            finally:
                tmp.unlink(missing_ok=True)
    return exe


class Harness:
    """One OpenR2 process with ``chans`` channels (numbered 1..chans)."""

    def __init__(self, chans: int = 1, *, max_ani: int = 20, max_dnis: int = 5, ani_first: bool = True,
                 on_offer: str = "accept", accept_mode: str = "charge", answer_ms: int = 1000,
                 skip_category: bool = False, log: bool = False) -> None:
        self.chans = chans
        exe = build_harness()
        args = [str(exe), "--chans", str(chans), "--max-ani", str(max_ani), "--max-dnis", str(max_dnis),
                "--ani-first", "1" if ani_first else "0", "--on-offer", on_offer, "--accept-mode", accept_mode,
                "--answer-ms", str(answer_ms), "--log", "1" if log else "0",
                "--skip-category", "1" if skip_category else "0"]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.events: list[tuple[float, int, str, dict[str, str]]] = []
        self.log: list[str] = []
        self._cond = threading.Condition()
        self._pending: list[str] = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        self.wait_event(0, "ready", 5)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.log.append(line)
                m = re.match(r"EV (\d+) (\w+)(.*)", line)
                if m:
                    kv = dict(re.findall(r"(\w+)=(\S+)", m.group(3)))
                    self.events.append((time.monotonic(), int(m.group(1)), m.group(2), kv))
                    self._cond.notify_all()

    def command(self, text: str) -> None:
        """Queue a command for the next tick ("call CH ANI DNIS", "answer CH", "hangup CH")."""
        with self._cond:
            self._pending.append(text)

    def step(self, cas: list[int], audio: np.ndarray) -> tuple[list[int], list[int], np.ndarray]:
        """One tick: returns (answered flags, tx CAS bits, tx audio) per channel."""
        with self._cond:
            cmds, self._pending = self._pending, []
        text = "".join(c.rstrip("\n") + "\n" for c in cmds).encode()
        n = self.chans
        msg = struct.pack("<cBH", b"T", n, len(text)) + bytes(cas) + np.ascontiguousarray(
            audio, dtype=np.uint8).tobytes() + text
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(msg)
        self.proc.stdin.flush()
        out = self.proc.stdout.read(2 + 2 * n + n * FRAME)
        if len(out) != 2 + 2 * n + n * FRAME:
            raise RuntimeError(f"OpenR2 harness died: {self.tail()}")
        flags = list(out[2:2 + n])
        bits = list(out[2 + n:2 + 2 * n])
        tx = np.frombuffer(out[2 + 2 * n:], dtype=np.uint8).reshape(n, FRAME).copy()
        return flags, bits, tx

    def find(self, ch: int, name: str) -> list[dict[str, str]]:
        with self._cond:
            return [kv for _, c, n, kv in self.events if c == ch and n == name]

    def when(self, ch: int, name: str) -> float | None:
        with self._cond:
            return next((t for t, c, n, _ in self.events if c == ch and n == name), None)

    def wait_event(self, ch: int, name: str, timeout: float) -> dict[str, str]:
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for _, c, n, kv in self.events:
                    if c == ch and n == name:
                        return kv
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"no OpenR2 event {name!r} on channel {ch} within {timeout} s; "
                                       f"events: {[(c, n) for _, c, n, _ in self.events]}")
                self._cond.wait(left)

    def tail(self, n: int = 40) -> str:
        with self._cond:
            return "\n".join(self.log[-n:])

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class PeerBridge:
    """Harness channel i is the span's timeslot ``timeslots[i]``; runs until ``close()``."""

    def __init__(self, peer_socket: Path | str, harness: Harness, span: int, timeslots: list[int]) -> None:
        assert len(timeslots) == harness.chans
        self.harness = harness
        self.span = span
        self.timeslots = timeslots
        self.rows = [E1_BEARER_TIMESLOTS.index(ts) for ts in timeslots]
        self.host_bits = {ts: 0b1011 for ts in timeslots}
        self.sent_bits: dict[int, int] = {}
        self.talk: dict[int, float] = {}  # timeslot -> tone (Hz) OpenR2's side speaks once answered
        self.heard: dict[int, list[np.ndarray]] = {ts: [] for ts in timeslots}
        self.answered: dict[int, bool] = {ts: False for ts in timeslots}
        self.ticks = 0
        self.error: BaseException | None = None
        self._phase = {ts: 0 for ts in timeslots}
        self._lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(peer_socket))
        self._closing = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def heard_audio(self, ts: int, last_s: float = 1.0) -> bytes:
        with self._lock:
            rows = self.heard[ts][-round(last_s * 50):]
        return b"".join(r.tobytes() for r in rows)

    def _run(self) -> None:
        dec = boardlink.FrameDecoder()
        try:
            while not self._closing:
                data = self.sock.recv(65536)
                if not data:
                    return
                for mtype, payload in dec.feed(data):
                    if mtype is MsgType.TICK:
                        self._tick(boardlink.decode_audio(payload))
        except OSError:
            if not self._closing:
                raise
        except BaseException as exc:  # surfaced by the test through .error
            self.error = exc
            raise

    def _tick(self, msg: boardlink.AudioMessage) -> None:
        for rec in msg.records:
            if isinstance(rec, CasChange):
                ts = int(rec.port.split("/")[1])
                if ts in self.host_bits:
                    self.host_bits[ts] = rec.bits
        n = len(self.timeslots)
        audio = msg.audio[self.rows] if msg.audio.shape[0] == 30 else np.full((n, FRAME), SILENCE, np.uint8)
        flags, bits, tx = self.harness.step([self.host_bits[ts] for ts in self.timeslots], audio)
        out = np.full((30, FRAME), SILENCE, np.uint8)
        commands = []
        with self._lock:
            for i, ts in enumerate(self.timeslots):
                answered = bool(flags[i])
                self.answered[ts] = answered
                row = tx[i]
                if answered:
                    self.heard[ts].append(audio[i].copy())
                    freq = self.talk.get(ts)
                    if freq:
                        row = linear_to_alaw(sine(freq, -12.0, FRAME, self._phase[ts]))
                        self._phase[ts] += FRAME
                out[self.rows[i]] = row
                if self.sent_bits.get(ts) != bits[i]:
                    self.sent_bits[ts] = bits[i]
                    commands.append(SetCas(f"{self.span}/{ts}", bits[i]))
        self.sock.sendall(boardlink.encode_audio(MsgType.TX, msg.tick, out, commands))
        self.ticks += 1

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(2)


class OpenR2Pair:
    """Two OpenR2 harnesses on one wire (channel 1 each), stepped every 20 ms in real time; like the
    simulated span, each side gets the other's bits and audio of the previous tick."""

    def __init__(self, caller: Harness, callee: Harness) -> None:
        self.a, self.b = caller, callee
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        a_bits, b_bits = [0b1011], [0b1011]
        a_audio = np.full((1, FRAME), SILENCE, np.uint8)
        b_audio = a_audio.copy()
        t = time.monotonic()
        while not self._stop:
            # each side hears the other's bits and audio one tick late, as through the simulated span
            _, a_bits_next, a_audio_next = self.a.step(b_bits, b_audio)
            _, b_bits_next, b_audio_next = self.b.step(a_bits, a_audio)
            a_bits, a_audio, b_bits, b_audio = a_bits_next, a_audio_next, b_bits_next, b_audio_next
            t += 0.02
            time.sleep(max(0.0, t - time.monotonic()))

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)

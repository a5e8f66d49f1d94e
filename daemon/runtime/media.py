"""The media layer: what each channel hears and what is listened for, once per 20 ms tick.

Per tick, ``cancel_echo`` first takes each line's echo of the box's own audio out of the rx array on
the channels that cancel it (``hal.dsp.echo.EchoBank``, one batched canceller; ``remember_tx`` gives
it each tick's tx as the reference), then ``receive`` decodes the whole rx array once and runs the
receivers a port asked for (DTMF, call-progress, caller ID, an analog trunk's answer detector) over
just those channels; ``transmit`` builds the whole tx array:
bridged channels copy their partner's A-law frame (no transcoding), channels in a conference or tap
get their mix (``daemon.runtime.conference``: ``mixer`` routes, ``rooms`` membership), channels with a
prompt (A-law, ``frame() -> (alaw, done id | None)``) get its frame, channels with a generator (tone,
DTMF, a one-shot burst: caller ID or a beep, ``play_once``) get its frame, everything else A-law
silence. Generators override the prompt, the bridge and the mix, so signalling tones always reach the
line; an *overlay* tone (call waiting) is added on top of whatever the channel hears instead. A burst
removes itself once played; a prompt that ends reports its done id in ``prompts_done`` for that tick.
No per-sample Python anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from daemon.runtime.conference import Mixer, Rooms
from hal.clock import FRAME_SAMPLES
from hal.dsp.answer import AnswerBank, AnswerVerdict
from hal.dsp.callerid import CallerId, FskCallerIdReceiver, dtmf_cid_encode, fsk_encode
from hal.dsp.dtmf import DtmfSender
from hal.dsp.dtmf_rx import DtmfBank
from hal.dsp.echo import EchoBank
from hal.dsp.g711 import ALAW_SILENCE, alaw_to_linear, linear_to_alaw
from hal.dsp.progress import ProgressBank, ProgressEvent
from hal.dsp.r2mf import R2MfBank, R2MfSender
from hal.dsp.tones import CHINA, ToneGenerator, ToneName


class _Burst:
    """A finite buffer of 16-bit linear samples played once (a caller-ID burst, a beep): padded with
    silence to whole frames once, then a view of it per frame."""

    def __init__(self, samples: np.ndarray) -> None:
        self.samples = np.zeros(-(-len(samples) // FRAME_SAMPLES) * FRAME_SAMPLES, np.int16)
        self.samples[: len(samples)] = samples
        self.pos = 0

    @property
    def idle(self) -> bool:
        return self.pos >= len(self.samples)

    def generate(self, n: int = FRAME_SAMPLES) -> np.ndarray:
        out = self.samples[self.pos:self.pos + n]
        self.pos += n
        return out


@dataclass
class Heard:
    digits: list[tuple[int, str]]
    progress: list[tuple[int, ProgressEvent]]
    caller_ids: list[tuple[int, CallerId]]
    mf: list[tuple[int, int]] = field(default_factory=list)  # R2 MF changes: (channel, signal or 0)
    answers: list[tuple[int, AnswerVerdict]] = field(default_factory=list)  # analog trunks' answer detectors


class Media:
    def __init__(self, channels: int) -> None:
        self.channels = channels
        self.tx = np.full((channels, FRAME_SAMPLES), ALAW_SILENCE, np.uint8)
        self.feed = np.full(channels, -1, np.int64)  # tx[ch] = rx[feed[ch]] when >= 0
        self.tones: dict[int, ToneGenerator] = {}
        self.dtmf_tx: dict[int, DtmfSender] = {}
        self.bursts: dict[int, _Burst] = {}
        self.prompts: dict[int, Any] = {}  # IVR playback per channel (``frame() -> (alaw, done_id)``)
        # (channel, play id) of the prompts that ended in this tick's transmit: every consumer reads it
        # in an ``after_tick`` hook and keeps to its own channels; only ``transmit`` empties it
        self.prompts_done: list[tuple[int, int]] = []
        self.listen_dtmf: set[int] = set()
        self.listen_progress: set[int] = set()
        self.listen_answer: set[int] = set()
        self.cid_rx: dict[int, FskCallerIdReceiver] = {}
        self.dtmf_rx = DtmfBank(channels)
        self.progress_rx = ProgressBank(channels)
        self.answer_rx = AnswerBank(channels)
        self._dtmf_list: list[int] = []
        self._progress_list: list[int] = []
        self._answer_list: list[int] = []
        self.mf_tx: dict[int, R2MfSender] = {}  # No.1 register tones (compelled: on until set to 0)
        self.mf_rx = R2MfBank()
        self.mixer = Mixer()  # conferences and supervisor taps (override the bridge copy)
        self.rooms = Rooms(self.mixer)
        self.overlays: dict[int, ToneGenerator] = {}  # tones mixed over what a channel hears (call waiting)
        self.echo: EchoBank | None = None  # line echo cancellers (``cancel_echo_on``)
        self._echo_rows = np.zeros(0, np.intp)  # the channel of each canceller row
        self._echo_row_of: dict[int, int] = {}

    def cancel_echo_on(self, channels: list[int], tail_ms: float = 32.0, delay_frames: int = 2,
                       nlp_db: float = 12.0) -> None:
        """Line echo cancellers on ``channels`` (replacing any there were; none: off): a ``tail_ms``
        filter starting ``delay_frames`` ticks after the tick whose audio it echoes (the board's transmit
        buffer), with an NLP of up to ``nlp_db``."""
        chans = sorted(set(channels))
        self._echo_rows = np.array(chans, np.intp)
        self._echo_row_of = {ch: i for i, ch in enumerate(chans)}
        self.echo = EchoBank(len(chans), tail_ms, delay_frames, nlp_db) if chans else None

    # --- control (between ticks) ----------------------------------------------------------------

    def play(self, ch: int, tone: ToneName | None) -> None:
        if tone is None:
            self.tones.pop(ch, None)
        else:
            self.tones[ch] = ToneGenerator(CHINA[tone])

    def overlay(self, ch: int, tone: ToneName | None) -> None:
        """Mix ``tone`` over what the channel hears (None: stop), e.g. the call-waiting tone."""
        if tone is None:
            self.overlays.pop(ch, None)
        else:
            self.overlays[ch] = ToneGenerator(CHINA[tone])

    def play_once(self, ch: int, samples: np.ndarray | None) -> None:
        """Play ``samples`` (16-bit linear) to the channel once, over what it hears; the burst goes by
        itself when played (None: stop it now)."""
        if samples is None:
            self.bursts.pop(ch, None)
        else:
            self.bursts[ch] = _Burst(samples)

    def send_dtmf(self, ch: int, digits: str) -> None:
        sender = self.dtmf_tx.get(ch)
        if sender is None:
            sender = self.dtmf_tx[ch] = DtmfSender()
        sender.send(digits)

    def send_caller_id(self, ch: int, cid: CallerId, method: str) -> None:
        if method == "dtmf":
            self.send_dtmf(ch, dtmf_cid_encode(cid))
        else:
            self.play_once(ch, fsk_encode(cid))

    def send_mf(self, ch: int, signal: int, forward: bool, level_dbm0: float = -11.0) -> None:
        """Put R2 MF ``signal`` on the channel until the next call; 0 = tone off."""
        sender = self.mf_tx.get(ch)
        if signal == 0:
            self.mf_tx.pop(ch, None)
            return
        if sender is None or sender.forward != forward or sender.level_dbm0 != level_dbm0:
            sender = self.mf_tx[ch] = R2MfSender(forward, level_dbm0)
        sender.set(signal)

    def detect(self, ch: int, detector: str, on: bool) -> None:
        if detector in ("r2mf_fwd", "r2mf_bwd"):
            self.mf_rx.listen(ch, (detector == "r2mf_fwd") if on else None)
        elif detector == "dtmf":
            (self.listen_dtmf.add if on else self.listen_dtmf.discard)(ch)
            self._dtmf_list = sorted(self.listen_dtmf)
        elif detector == "progress":
            (self.listen_progress.add if on else self.listen_progress.discard)(ch)
            self._progress_list = sorted(self.listen_progress)
            if on:
                self.progress_rx.reset(ch)
        elif detector == "answer":
            (self.listen_answer.add if on else self.listen_answer.discard)(ch)
            self._answer_list = sorted(self.listen_answer)
            if on:
                self.answer_rx.reset(ch)
        elif detector == "callerid":
            if on:
                self.cid_rx[ch] = FskCallerIdReceiver()
            else:
                self.cid_rx.pop(ch, None)
        else:
            raise ValueError(f"unknown detector {detector!r}")

    def connect(self, a: int, b: int, one_way: bool = False) -> None:
        """``a`` hears ``b`` and, unless ``one_way`` (early media: ringback, an announcement), ``b`` hears ``a``."""
        self.feed[a] = b
        if not one_way:
            self.feed[b] = a
        elif self.feed[b] == a:
            self.feed[b] = -1

    def disconnect(self, ch: int) -> None:
        """``ch`` hears nothing more, and whoever heard ``ch`` (both ways or one way) hears it no more."""
        self.feed[ch] = -1
        self.feed[self.feed == ch] = -1

    def reset(self, ch: int) -> None:
        """Forget everything about a channel (port released and idle)."""
        self.disconnect(ch)
        self.tones.pop(ch, None)
        self.dtmf_tx.pop(ch, None)
        self.bursts.pop(ch, None)
        self.mf_tx.pop(ch, None)
        self.prompts.pop(ch, None)
        self.overlays.pop(ch, None)
        self.rooms.leave(ch)
        self.mixer.clear(ch)
        if ch in self.mf_rx.channels:
            self.mf_rx.listen(ch, None)
        row = self._echo_row_of.get(ch)
        if row is not None and self.echo is not None:
            self.echo.reset(row)  # the next call's echo path is learnt afresh

    # --- the tick ---------------------------------------------------------------------------------

    @property
    def echo_channels(self) -> list[int]:
        """The channels whose line echo is cancelled."""
        return self._echo_rows.tolist()

    def cancel_echo(self, rx: np.ndarray) -> np.ndarray:
        """``rx`` with each cancelling channel's echo removed (a new array; ``rx`` itself if no channel
        had anything to cancel). What everything after it hears: receivers, bridges, mixes, recordings."""
        if self.echo is None:
            return rx
        rows = self._echo_rows
        clean = self.echo.cancel(alaw_to_linear(rx[rows]))
        live = self.echo.live
        if not live.any():  # nothing to cancel anywhere: every row passed through as it came
            return rx
        out = rx.copy()
        out[rows[live]] = linear_to_alaw(np.clip(np.rint(clean[live]), -32768, 32767))
        return out

    def remember_tx(self, tx: np.ndarray) -> None:
        """This tick's transmitted frames: the reference for the echo the cancellers will hear."""
        if self.echo is not None:
            self.echo.remember(alaw_to_linear(tx[self._echo_rows]))

    def receive(self, rx: np.ndarray) -> Heard:
        heard = Heard([], [], [])
        if not (self._dtmf_list or self._progress_list or self._answer_list or self.cid_rx or self.mf_rx.channels):
            return heard
        lin = alaw_to_linear(rx)
        if self.mf_rx.channels:
            heard.mf = self.mf_rx.process(lin)
        if self._dtmf_list:
            heard.digits = self.dtmf_rx.process(lin, self._dtmf_list)
        if self._progress_list:
            heard.progress = self.progress_rx.process(lin, self._progress_list)
        if self._answer_list:
            heard.answers = self.answer_rx.process(lin, self._answer_list)
        for ch, receiver in self.cid_rx.items():
            cid = receiver.process(lin[ch])
            if cid is not None:
                heard.caller_ids.append((ch, cid))
        return heard

    def transmit(self, rx: np.ndarray) -> np.ndarray:
        tx = self.tx
        tx.fill(ALAW_SILENCE)
        bridged = self.feed >= 0
        if bridged.any():
            tx[bridged] = rx[self.feed[bridged]]
        if self.mixer:
            self.mixer.apply(rx, tx)
        prompts_done = self.prompts_done
        if prompts_done:
            prompts_done.clear()  # the last tick's: its after_tick hooks have seen them
        if self.prompts:  # prompts are A-law already: copied, never transcoded
            for ch, playback in self.prompts.items():
                tx[ch], done = playback.frame()
                if done is not None:
                    prompts_done.append((ch, done))
        if self.tones or self.dtmf_tx or self.bursts or self.mf_tx:
            chans: list[int] = []
            frames: list[np.ndarray] = []
            for ch, gen in self.tones.items():
                chans.append(ch)
                frames.append(gen.generate(FRAME_SAMPLES))
            for table in (self.dtmf_tx, self.bursts, self.mf_tx):
                for ch, src in list(table.items()):
                    if src.idle:
                        del table[ch]
                        continue
                    frame = src.generate(FRAME_SAMPLES)
                    if ch in chans:
                        frames[chans.index(ch)] = frame
                    else:
                        chans.append(ch)
                        frames.append(frame)
            if chans:
                tx[chans] = linear_to_alaw(np.stack(frames))
        if self.overlays:
            tones = np.stack([gen.generate(FRAME_SAMPLES) for gen in self.overlays.values()])
            sounding = tones.any(axis=1)  # in a cadence's silent part there is nothing to mix
            if sounding.any():
                chans = np.fromiter(self.overlays, np.intp, len(self.overlays))[sounding]
                mixed = alaw_to_linear(tx[chans]).astype(np.int32) + tones[sounding]
                tx[chans] = linear_to_alaw(np.clip(mixed, -32768, 32767))
        return tx

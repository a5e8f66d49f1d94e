"""No.1 / R2 compelled MFC register signalling on one timeslot, both roles (sans-I/O).

A compelled cycle: the forward side puts a signal on; the backward side answers with a signal; the
forward side removes its signal; the backward side removes its answer; then the next forward
signal. A new tone without an "off" in between, or a tone that is never answered or never removed
(``T_MF_CYCLE``), is a protocol error.

``IncomingRegister`` (backward: we receive the call) asks for the number with Group A signals::

    digit (DNIS) -> A-1 next digit, until the DNIS is complete (``dnis_length`` digits, or
        T_END_OF_DNIS of silence, then a pulsed A-3)
    ANI (``ani`` = "first": after ``ani_after_digits`` DNIS digits; "after": once the DNIS is
        complete): A-6 -> KA (category) -> A-1 per ANI digit until I-15 / I-12 / ``max_ani`` digits
    DNIS complete and ANI done -> A-3 (change to Group B) -> KD -> "offered"; call control decides
        -> B-1/B-7 (accept) or B-2/B-4/B-5/B-8 -> the forward tone goes off -> "complete"

``OutgoingRegister`` (forward: we place the call) sends the first DNIS digit and then answers every
backward signal: A-1 next digit (an ANI digit after KA, I-15 once the ANI is sent), A-2/A-7/A-8
resend digit n-1/n-2/n-3, A-6 KA, A-3 KD, A-4 congestion, Group B -> the result. Out of digits it
stays silent and waits for the backward side's pulsed A-3 (``T_FWD_SILENT``).

Both hold ``tx``, the signal they are sending (0 = none), and share the owning trunk's timer dict;
their inputs return register events: ``Offered`` (incoming: KD is in, call control decides),
``Complete(cause)`` (the last compelled cycle is over; outgoing: ``cause`` None = accepted) and
``RegisterError(reason)`` (the far end broke the protocol).
"""

from __future__ import annotations

from dataclasses import dataclass

from signaling.events import Cause
from signaling.no1.variant import B_CAUSE, Variant


@dataclass(frozen=True)
class Offered:
    """Incoming: DNIS, ANI and categories are in; the forward side holds KD until the Group B answer."""


@dataclass(frozen=True)
class Complete:
    """The register phase is over (its last tone is off); outgoing: ``cause`` None means accepted."""

    cause: Cause | None = None


@dataclass(frozen=True)
class RegisterError:
    """The far end broke the compelled sequence (or a register timer ran out)."""

    reason: str


RegEvent = Offered | Complete | RegisterError
MF_TIMERS = ("T_MF_CYCLE", "T_END_OF_DNIS", "T_A3_PULSE", "T_FWD_SILENT")


class _Register:
    def __init__(self, variant: Variant, timers: dict[str, float]) -> None:
        self.v = variant
        self._timers = timers
        self.tx = 0  # the signal we send (0: none)
        self.heard = 0  # the far end's signal (0: none)
        self.failed = False

    def _arm(self, name: str, now: float) -> None:
        self._timers[name] = now + self.v.timer(name)

    def _stop(self, *names: str) -> None:
        for n in names or MF_TIMERS:
            self._timers.pop(n, None)

    def _error(self, reason: str) -> list[RegEvent]:
        self.failed = True
        self.tx = 0
        self._stop()
        return [RegisterError(reason)]

    def stop(self) -> None:
        """The call ended some other way: drop the tone and the timers."""
        self.tx = 0
        self._stop()

    def _change(self, signal: int) -> str | None:
        """Common tone bookkeeping: None if the change is to be processed, else a protocol error."""
        if signal and self.heard and signal != self.heard:
            return f"signal {signal} replaced signal {self.heard} without a tone-off"
        return None


class IncomingRegister(_Register):
    """The backward register: collect DNIS, ANI and the categories, then answer with Group B."""

    def __init__(self, variant: Variant, timers: dict[str, float], *, dnis_length: int = 0,
                 ani: str = "first", ani_after_digits: int = 1, max_ani: int = 20) -> None:
        super().__init__(variant, timers)
        self.dnis_length = dnis_length
        self.ani_mode = ani
        self.ani_after_digits = max(1, ani_after_digits)
        self.max_ani = max_ani
        self.dnis = ""
        self.ani = ""
        self.ani_restricted = False
        self.ka: int | None = None
        self.kd: int | None = None
        self.expect = "dnis"  # dnis | ka | ani | kd | decision | done
        self._dnis_complete = False
        self._ani_done = ani == "none"
        self._pulsing = False
        self._refuse = False  # call control refused before Group B: answer the next signal with A-4
        self.b_sent: int | None = None

    def start(self, now: float) -> list[RegEvent]:
        self._arm("T_MF_CYCLE", now)  # the first digit must come
        return []

    # --- inputs -------------------------------------------------------------------------------

    def tone(self, signal: int, now: float) -> list[RegEvent]:
        if self.failed or signal == self.heard:
            return []
        err = self._change(signal)
        if err:
            return self._error(err)
        self.heard = signal
        if signal:
            return self._tone_on(signal, now)
        return self._tone_off(now)

    def _tone_on(self, signal: int, now: float) -> list[RegEvent]:
        if self._pulsing:  # the forward side answered our pulse before it ended
            self._pulsing = False
            self.tx = 0
            self._stop("T_A3_PULSE")
        elif self.tx:
            return self._error(f"forward signal {signal} while backward signal {self.tx} is still on")
        self._stop("T_END_OF_DNIS", "T_MF_CYCLE")
        if self._refuse and self.expect != "kd":
            self.tx = self.v.a_signal("congestion")
            self.expect = "done"
            self._arm("T_MF_CYCLE", now)
            return []
        handler = getattr(self, "_got_" + self.expect, None)
        if handler is None:
            return self._error(f"forward signal {signal} while expecting {self.expect}")
        return handler(signal, now)

    def _got_dnis(self, signal: int, now: float) -> list[RegEvent]:
        digit = self.v.signal_digit(signal)
        if digit is not None:
            self.dnis += digit
            if self.dnis_length and len(self.dnis) >= self.dnis_length:
                self._dnis_complete = True
        elif signal == self.v.group_i.get("end_of_dnis"):
            self._dnis_complete = True
        else:
            return self._error(f"forward signal {signal} is not a digit")
        return self._respond(self._next_request(), now)

    def _got_ka(self, signal: int, now: float) -> list[RegEvent]:
        self.ka = signal
        self.expect = "ani"
        return self._respond(self.v.a_signal("next_digit"), now)

    def _got_ani(self, signal: int, now: float) -> list[RegEvent]:
        digit = self.v.signal_digit(signal)
        if digit is not None:
            self.ani += digit
            if len(self.ani) >= self.max_ani:
                self._ani_done = True
        elif signal == self.v.group_i["end_of_ani"]:
            self._ani_done = True
        elif signal == self.v.group_i["ani_restricted"]:
            self._ani_done = self.ani_restricted = True
        else:
            return self._error(f"forward signal {signal} is not an ANI digit")
        if not self._ani_done:
            return self._respond(self.v.a_signal("next_digit"), now)
        return self._respond(self._next_request(), now)

    def _got_kd(self, signal: int, now: float) -> list[RegEvent]:
        self.kd = signal
        self.expect = "decision"
        if self._refuse:
            return self.decide(self.v.b_signal("congestion"), now)
        self._arm("T_MF_CYCLE", now)  # call control must decide before the forward side gives up
        return [Offered()]

    def _next_request(self) -> int:
        wants_ani = not self._ani_done and (
            self.ani_mode == "first" and len(self.dnis) >= self.ani_after_digits
            or self.ani_mode == "after" and self._dnis_complete)
        if wants_ani:
            self.expect = "ka"
            return self.v.a_signal("send_category")
        if self._dnis_complete:
            self.expect = "kd"
            return self.v.a_signal("address_complete")
        self.expect = "dnis"
        return self.v.a_signal("next_digit")

    def _respond(self, signal: int, now: float) -> list[RegEvent]:
        self.tx = signal
        self._arm("T_MF_CYCLE", now)  # the forward side must remove its tone
        return []

    def _tone_off(self, now: float) -> list[RegEvent]:
        self._stop("T_MF_CYCLE")
        if self.expect == "decision":
            return self._error("forward side removed KD before the Group B answer")
        if not self.tx:
            return self._error("forward tone removed before it was answered")
        self.tx = 0
        if self.expect == "done":
            return [Complete(None)]
        if self.expect == "dnis" and not self.dnis_length:
            self._arm("T_END_OF_DNIS", now)
        else:
            self._arm("T_MF_CYCLE", now)
        return []

    # --- call control ----------------------------------------------------------------------------

    def decide(self, b_signal: int, now: float) -> list[RegEvent]:
        """Answer the forward side's KD with Group B signal ``b_signal``."""
        if self.expect != "decision" or self.failed:
            return []
        self.b_sent = b_signal
        self.expect = "done"
        return self._respond(b_signal, now)

    def refuse(self) -> None:
        """Call control refused the call before it was offered: congestion at the next chance."""
        self._refuse = True

    # --- timers ------------------------------------------------------------------------------------

    def expired(self, name: str, now: float) -> list[RegEvent]:
        if name == "T_END_OF_DNIS":
            if self.expect != "dnis" or self.heard or self.tx or not self.dnis:
                return []
            self._dnis_complete = True
            self.tx = self._next_request()  # A-3 (or A-6 for ANI after the DNIS), pulsed
            self._pulsing = True
            self._arm("T_A3_PULSE", now)
            return []
        if name == "T_A3_PULSE":
            self._pulsing = False
            self.tx = 0
            self._arm("T_MF_CYCLE", now)
            return []
        if name == "T_MF_CYCLE":
            return self._error(f"compelled cycle timed out expecting {self.expect}")
        return []


class OutgoingRegister(_Register):
    """The forward register: send DNIS, KA + ANI on request, KD, and read the Group B result."""

    def __init__(self, variant: Variant, timers: dict[str, float], dnis: str, ani: str | None) -> None:
        super().__init__(variant, timers)
        self.dnis = [s for s in map(variant.digit_signal, dnis) if s is not None]
        self.ani = [s for s in map(variant.digit_signal, ani) if s is not None] if ani else None
        self.phase = "dnis"  # dnis | ani | b | done
        self._next = 0  # index of the next DNIS digit
        self._last = -1  # index of the last DNIS digit sent
        self._ani_next = 0
        self._pending: int | None = None
        self.result: Cause | None = None
        self.b_received: int | None = None
        self.sent: list[int] = []  # every signal put on the line, in order

    def start(self, now: float) -> list[RegEvent]:
        if not self.dnis:
            return self._error("no digits to send")
        self._send(self._dnis_digit(0), now)
        return []

    def _dnis_digit(self, i: int) -> int:
        self._last = i
        self._next = i + 1
        return self.dnis[i]

    def _send(self, signal: int, now: float) -> None:
        self.tx = signal
        self.sent.append(signal)
        self._arm("T_MF_CYCLE", now)

    def tone(self, signal: int, now: float) -> list[RegEvent]:
        if self.failed or signal == self.heard:
            return []
        err = self._change(signal)
        if err:
            return self._error(err)
        self.heard = signal
        self._stop("T_MF_CYCLE", "T_FWD_SILENT")
        if signal:
            self.tx = 0  # compelled: the backward signal acknowledges ours (or is a pulse)
            if self.phase == "b":
                return self._group_b(signal, now)
            return self._group_a(signal, now)
        if self.phase == "done":
            return [Complete(self.result)]
        if self._pending is not None:
            sig, self._pending = self._pending, None
            self._send(sig, now)
        else:
            self._arm("T_FWD_SILENT", now)  # out of digits: the backward side will pulse A-3
        return []

    def _group_a(self, signal: int, now: float) -> list[RegEvent]:
        meaning = self.v.group_a.get(signal)
        self._arm("T_MF_CYCLE", now)  # the backward signal must go off
        if meaning == "next_digit":
            if self.phase == "ani":
                self._pending = self._next_ani()
            elif self._next < len(self.dnis):
                self._pending = self._dnis_digit(self._next)
            else:
                self._pending = self.v.group_i.get("end_of_dnis")  # None in China: stay silent
        elif meaning in ("resend_1", "resend_2", "resend_3"):
            back = int(meaning[-1])
            i = self._last - back
            if i < 0:
                return self._error(f"A-{signal} asks for a digit before the first")
            self._pending = self._dnis_digit(i)
        elif meaning == "send_category":
            self._pending = self.v.ka
            self.phase = "ani"
        elif meaning == "address_complete":
            self._pending = self.v.kd
            self.phase = "b"
        elif meaning == "address_complete_charge":
            self.phase = "done"
            self.result = None
        elif meaning == "congestion":
            self.phase = "done"
            self.result = Cause.SWITCHING_EQUIPMENT_CONGESTION
        else:
            return self._error(f"backward signal A-{signal} has no meaning here")
        return []

    def _next_ani(self) -> int:
        if self.ani is None:
            self.phase = "dnis"
            return self.v.group_i["ani_restricted"]
        if self._ani_next < len(self.ani):
            self._ani_next += 1
            return self.ani[self._ani_next - 1]
        self.phase = "dnis"
        return self.v.group_i["end_of_ani"]

    def _group_b(self, signal: int, now: float) -> list[RegEvent]:
        self.b_received = signal
        meaning = self.v.group_b.get(signal)
        self.result = B_CAUSE.get(meaning, Cause.NORMAL_UNSPECIFIED) if meaning else Cause.NORMAL_UNSPECIFIED
        self.phase = "done"
        self._arm("T_MF_CYCLE", now)
        return []

    def expired(self, name: str, now: float) -> list[RegEvent]:
        if name == "T_MF_CYCLE":
            return self._error(f"compelled cycle timed out in phase {self.phase}")
        if name == "T_FWD_SILENT":
            return self._error("no backward signal while out of digits")
        return []

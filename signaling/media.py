"""Media requests: what a signalling state machine asks of the port's audio path.

The machines never touch audio. They queue these requests next to their board commands and call
events; the daemon's engine hands them to the media layer (tone generators, DTMF and caller-ID
senders, and the per-channel detectors: DTMF, call-progress tones, caller-ID receivers).
"""

from __future__ import annotations

from dataclasses import dataclass

from hal.dsp.callerid import CallerId
from hal.dsp.tones import ToneName

DETECTORS = ("dtmf", "progress", "callerid", "answer")
CALLERID_METHODS = ("fsk", "dtmf")


@dataclass(frozen=True)
class PlayTone:
    """Play ``tone`` (its national cadence) on the port until told otherwise; ``None`` stops any tone."""

    port: str
    tone: ToneName | None


@dataclass(frozen=True)
class SendDtmf:
    """Send these DTMF digits on the port (an FXO line dialling out)."""

    port: str
    digits: str


@dataclass(frozen=True)
class SendCallerId:
    """Send on-hook caller ID to the phone on an FXS port; ``method`` is "fsk" or "dtmf"."""

    port: str
    cid: CallerId
    method: str


@dataclass(frozen=True)
class Detect:
    """Turn one of the port's receivers on or off: ``detector`` is "dtmf", "progress", "callerid" or
    "answer" (``hal.dsp.answer``: an analog trunk's outbound call answered, decided from its audio; on
    resets it for a new call)."""

    port: str
    detector: str
    on: bool


@dataclass(frozen=True)
class SendMf:
    """R2 MF (No.1 register signalling): put ``signal`` (1..15) on the port, or 0 for tone off.

    ``forward`` picks the frequency group (forward 1380-1980 Hz, backward 540-1140 Hz). The tone stays
    on until the next SendMf for the port (compelled signalling).
    """

    port: str
    signal: int
    forward: bool
    level_dbm0: float = -11.0


MF_DETECTORS = ("r2mf_fwd", "r2mf_bwd")  # Detect(port, "r2mf_fwd"|"r2mf_bwd", on): R2 MF receivers

MediaRequest = PlayTone | SendDtmf | SendCallerId | Detect | SendMf

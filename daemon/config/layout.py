"""The configuration checked against the board's real layout, when the board opens.

``callboxd --check`` cannot see the board, so a port the board lacks (``port = "2/12"`` on an
8-port span), a port of the wrong kind, a trunk on a span that is not an E1 with CAS, or a timeslot
the span does not carry is found here: every port reference of the config is checked against the
spans the board reported, and the first mistake is a ``ConfigError`` naming file, line and key, as
the load-time checks do. The daemon stops on it (exit 2); ``config.set`` refuses it while the board
is open.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from daemon.config.checks import Checker
from daemon.config.model import Config
from hal.ports import E1Signalling, PortKind, Span, SpanKind

__all__ = ["check_layout"]


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""  # the error still names the file and the key, without a line


def _describe(span: Span) -> str:
    if span.kind is SpanKind.E1:
        sig = span.signalling.value.upper() if span.signalling else "no"
        return f"span {span.id} is an E1 with {sig} signalling"
    first, last = span.ports[0].id if span.ports else "-", span.ports[-1].id if span.ports else "-"
    return f"span {span.id} has {len(span.ports)} {span.kind.value.upper()} ports ({first} to {last})"


def check_layout(config: Config, spans: Sequence[Span], text: str | None = None) -> None:
    """Raise ``ConfigError`` (file:line: key) for the first port reference of ``config`` that the board
    whose ``spans`` these are does not have. ``text``: the config file's text (read from
    ``config.path`` when not given), for the line numbers."""
    c = Checker(Path(config.path), _read(config.path) if text is None else text)
    by_span = {s.id: s for s in spans}
    ports = {p.id: p for s in spans for p in s.ports}

    def check_port(kp: tuple, pid: str, kind: PortKind, what: str) -> None:
        span_id = int(pid.split("/")[0])
        span = by_span.get(span_id)
        if span is None:
            have = ", ".join(str(s) for s in sorted(by_span)) or "none"
            raise c.fail(kp, f"port {pid}: the board has no span {span_id} (its spans: {have})")
        port = ports.get(pid)
        if port is None:
            raise c.fail(kp, f"port {pid} is not on the board ({_describe(span)})")
        if port.kind is not kind:
            raise c.fail(kp, f"port {pid} is an {port.kind.value.upper()} port, "
                             f"{what} needs {kind.value.upper()} ({_describe(span)})")

    for i, ext in enumerate(config.extensions):
        check_port(("extension", i, "port"), ext.port, PortKind.FXS, "an extension")
    for i, line in enumerate(config.lines):
        check_port(("line", i, "port"), line.port, PortKind.FXO, "a line")
    for i, trunk in enumerate(config.trunks):
        span = by_span.get(trunk.span)
        if span is None or span.kind is not SpanKind.E1 or span.signalling is not E1Signalling.CAS:
            why = _describe(span) if span else f"the board has no span {trunk.span}"
            raise c.fail(("trunk", i, "span"), f"trunk {trunk.name!r} needs an E1 span with CAS signalling "
                                               f"(No.1); {why}")
        for pid in trunk.ports():
            if pid not in ports:
                raise c.fail(("trunk", i, "timeslots"), f"timeslot {pid} is not on the board ({_describe(span)})")

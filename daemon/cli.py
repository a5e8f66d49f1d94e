"""``callbox``: a small command line for the running daemon (status, ports, calls, CDRs, a live view).

It speaks the API socket like any integrator; it never opens the daemon's files but its
configuration, for the socket's path (``[api] socket``). Its role comes from the user's Unix groups,
raised by a token (``--token-file``, ``--token``, ``$CALLBOX_TOKEN_FILE``, ``$CALLBOX_TOKEN``: see
docs/service.md; ``daemon.api.connect``, shared with the TUI). Times are shown in the box's zone
(``status``'s ``utc_offset_min``), and ``--since``/``--until`` are read in it, whatever zone the host
running the command is set to.
"""

from __future__ import annotations

import argparse
import sys
import time

from daemon.api.client import ApiClient
from daemon.api.connect import SetupError, add_connection_arguments, read_token, socket_path
from daemon.api.paging import LIST_MAX
from daemon.api.protocol import ApiError
from daemon.config.box_time import DEFAULT_OFFSET_MIN, local_text, parse_local


def _t(ts: float | None, zone: int) -> str:
    return local_text(ts, zone, "%m-%d %H:%M:%S") if ts else "-"


def format_status(s: dict) -> str:
    alarms = ", ".join(f"span {k}: {' '.join(v)}" for k, v in s.get("alarms", {}).items()) or "none"
    return (f"{s['name']}  callboxd {s['version']}  up {s['uptime']:.0f}s\n"
            f"board: {'up' if s['board'] else 'DOWN'}   ticks: {s['ticks']}   skipped: {s['skipped_ticks']}   "
            f"worst tick: {s['tick_cost_max_ms']} ms\n"
            f"active calls: {s['active_calls']}   CDRs: {s['cdrs']}   alarms: {alarms}")


def _cell(value: object, width: int) -> str:
    """``value`` in ``width`` columns: padded, or cut with a final ``~`` (a row never pushes its neighbours)."""
    text = "-" if value is None or value == "" else str(value)
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "~"


DIRECTION = {"inbound": "in", "outbound": "out", "internal": "int"}
HOW = {"polarity": "pol", "timeout": "time"}  # answer_by in the CDR table's 5 columns


def format_cdrs(rows: list[dict], zone: int = DEFAULT_OFFSET_MIN) -> str:
    """CDR rows as a table of 80 columns (a serial console's), times in the zone ``zone`` minutes east of
    UTC (the box's). ``called`` shows the number dialled, else the DNIS a trunk call came in on; ``from`` and
    ``to`` are the line or extension at each end (which also says the direction); ``bill`` is whole seconds;
    ``how`` is what decided an analog line's outbound call (``answer_by``: pol(arity), voice, tone, time(out))."""
    lines = [f"{'end':14} {'caller':11} {'called':12} {'from':6} {'to':6} {'bill':>4} {'cau':>3} {'disposition':11} how"]
    for r in rows:
        lines.append(f"{_t(r.get('end'), zone):14} {_cell(r.get('caller'), 11)} "
                     f"{_cell(r.get('called') or r.get('dnis'), 12)} {_cell(r.get('src'), 6)} {_cell(r.get('dst'), 6)} "
                     f"{round(r.get('billsec') or 0):>4} {_cell(r.get('cause'), 3).strip():>3} "
                     f"{_cell(r.get('disposition'), 11)} {_cell(HOW.get(r.get('answer_by'), r.get('answer_by')), 5)}")
    return "\n".join(line.rstrip() for line in lines)


def format_ports(rows: list[dict]) -> str:
    out = []
    for r in rows:
        if r["kind"] == "e1":
            continue
        who = r.get("extension") or r.get("line") or ""
        out.append(f"{r['port']:6} {r['kind']:4} {who:8} {r.get('state', '-'):18} {r.get('call', '')}")
    e1 = [r for r in rows if r["kind"] == "e1"]
    if e1:
        out.append(f"E1 timeslots: {len(e1)}")
    return "\n".join(out)


def format_calls(rows: list[dict]) -> str:
    if not rows:
        return "no active calls"
    return "\n".join(f"{_cell(r['id'], 14)} {_cell(DIRECTION.get(r['direction'], r['direction']), 3)} "
                     f"{_cell(r.get('caller'), 13)} > {_cell(r.get('called'), 14)} {_cell(r.get('src_port'), 6)} > "
                     f"{_cell(r.get('dst_port'), 6)} {'answered' if r.get('answer') else 'ringing'}".rstrip()
                     for r in rows)


def watch(client: ApiClient, interval: float, duration: float | None, zone: int) -> None:
    end = time.monotonic() + duration if duration else None
    while end is None or time.monotonic() < end:
        screen = "\n\n".join((format_status(client.call("status")), format_ports(client.call("ports")),
                              format_calls(client.call("calls")),
                              format_cdrs(client.call("cdr.list", limit=8, newest_first=True), zone)))
        sys.stdout.write("\x1b[H\x1b[2J" + screen + "\n(Ctrl-C to stop)\n")
        sys.stdout.flush()
        time.sleep(interval)


def _date(text: str) -> str:
    """Checked here, read in the box's zone once the daemon has said it (``_range``)."""
    try:
        parse_local(text, 0)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from exc
    return text


def _range(args: argparse.Namespace, zone: int) -> dict:
    """``since``/``until`` for a CDR op: only those given, as epoch seconds (read in the box's zone)."""
    return {k: parse_local(v, zone) for k, v in (("since", args.since), ("until", args.until)) if v}


def export_cdrs(client: ApiClient, span: dict, output: str | None) -> int:
    """Page through ``cdr.export_csv`` (``span``: its since/until) and write one CSV file (UTF-8 with
    BOM, for Excel)."""
    out = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    cursor, rows = None, 0
    try:
        while True:
            page = client.call("cdr.export_csv", **span, **({"cursor": cursor} if cursor else {}))
            out.write(page["csv"])
            rows += page["rows"]
            cursor = page["next"]
            if cursor is None:
                break
    finally:
        if output:
            out.close()
    print(f"callbox: {rows} CDRs exported", file=sys.stderr)
    return 0


def list_cdrs(client: ApiClient, limit: int, span: dict) -> list[dict]:
    """The newest ``limit`` CDRs (in ``span``: since, until), newest first, page after page."""
    rows: list[dict] = []
    for page in client.pages("cdr.list", limit=min(limit, LIST_MAX), newest_first=True, **span):
        rows += page[:limit - len(rows)]
        if len(rows) >= limit:
            break
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="callbox", description="talk to the running callbox daemon")
    add_connection_arguments(ap)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("status", help="one-screen status")
    sub.add_parser("ports", help="every port's state")
    sub.add_parser("calls", help="calls in progress")
    cdr = sub.add_parser("cdr", help="call detail records")
    cdr.add_argument("action", choices=("list", "export"), help="list the newest, or export CSV to stdout / -o")
    cdr.add_argument("--limit", type=int, default=20, help="list: how many (newest first)")
    cdr.add_argument("--since", type=_date, default=None, help="YYYY-MM-DD[THH:MM], the box's local time")
    cdr.add_argument("--until", type=_date, default=None, help="YYYY-MM-DD[THH:MM], the box's local time")
    cdr.add_argument("-o", "--output", default=None, help="CSV file (export; default stdout)")
    w = sub.add_parser("watch", help="live view")
    w.add_argument("--interval", type=float, default=1.0)
    w.add_argument("--duration", type=float, default=None)
    args = ap.parse_args(argv)
    try:
        path = socket_path(args.socket, args.config)
        token = read_token(args.token, args.token_file)
    except SetupError as exc:
        print(f"callbox: {exc}", file=sys.stderr)
        return 2
    try:
        client = ApiClient(path)
    except OSError as exc:
        print(f"callbox: cannot reach the daemon at {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except ApiError as exc:  # refused: too many connections open
        print(f"callbox: the daemon at {path} refused the connection: {exc.message}", file=sys.stderr)
        return 1
    try:
        with client:
            if token is not None:
                try:
                    client.call("auth", token=token)
                except ApiError as exc:
                    print(f"callbox: the daemon refused the token ({exc.code})", file=sys.stderr)
                    return 1
            return run(client, args)
    except ApiError as exc:
        print(f"callbox: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def run(client: ApiClient, args: argparse.Namespace) -> int:
    status = client.call("status")
    zone = status.get("utc_offset_min", DEFAULT_OFFSET_MIN)
    if args.cmd == "status":
        print(format_status(status))
    elif args.cmd == "ports":
        print(format_ports(client.call("ports")))
    elif args.cmd == "calls":
        print(format_calls(client.call("calls")))
    elif args.cmd == "cdr" and args.action == "export":
        return export_cdrs(client, _range(args, zone), args.output)
    elif args.cmd == "cdr":
        print(format_cdrs(list_cdrs(client, args.limit, _range(args, zone)), zone))
    elif args.cmd == "watch":
        watch(client, args.interval, args.duration, zone)
    return 0


if __name__ == "__main__":
    sys.exit(main())

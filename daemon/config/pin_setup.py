"""The installer's step: give every PIN the shipped configuration leaves open a random one.

The default ``callbox.toml`` holds ``pin = "set-by-installer"`` (``daemon.config.pin_policy.PLACEHOLDER``)
for its agents, the supervisor and the voicemail box, and the box refuses to start with it. This
writes random acceptable PINs (6 digits, all different, none equal to the number it protects) in
their place, with the daemon's own config editor (comments and layout kept; written atomically,
the old file kept as ``.bak``), and prints them once, for the installer to hand out::

    python -m daemon.config.pin_setup --config /etc/callbox/callbox.toml

PINs already set are left alone; run again, it does nothing. The PINs are then only in the config
file (mode 0640, readable by the daemon and the admins), never in a log.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from daemon.config.editing import edit_text, write_atomically
from daemon.config.pin_policy import PLACEHOLDER, generate


def fill(text: str, given: dict[str, str] | None = None) -> tuple[str, list[tuple[str, str]]]:
    """``text`` with every placeholder PIN set: from ``given`` (config key → PIN, e.g.
    ``{"agent[1001].pin": "4826"}``) or generated. Returns the new text and (key, PIN) as set."""
    data = tomllib.loads(text)
    given = given or {}
    wanted: list[tuple[str, tuple[str, ...]]] = []  # (key, numbers the PIN must not equal)
    for a in data.get("agent", []):
        if a.get("pin") == PLACEHOLDER:
            wanted.append((f"agent[{a['id']}].pin", (str(a["id"]), str(a.get("extension", "")))))
    for e in data.get("extension", []):
        if e.get("voicemail_pin") == PLACEHOLDER:
            wanted.append((f"extension[{e['number']}].voicemail_pin", (str(e["number"]),)))
    for b in data.get("voicemail", []):
        if b.get("pin") == PLACEHOLDER:
            wanted.append((f"voicemail[{b['box']}].pin", (str(b["box"]).partition(":")[2],)))
    taken: set[str] = set()
    chosen = []
    for key, numbers in wanted:
        pin = given.get(key) or generate((*numbers, *taken))
        taken.add(pin)
        chosen.append((key, pin))
    if not chosen:
        return text, []
    return edit_text(text, [{"key": k, "value": v} for k, v in chosen]), chosen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m daemon.config.pin_setup", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="/etc/callbox/callbox.toml", type=Path)
    args = ap.parse_args(argv)
    text = args.config.read_text(encoding="utf-8")
    new, chosen = fill(text)
    if not chosen:
        print(f"{args.config}: every PIN is set already; nothing changed")
        return 0
    write_atomically(args.config, new)
    print(f"{args.config}: PINs set. Hand each to its owner; they are shown only this once:")
    for key, pin in chosen:
        print(f"  {key:40} {pin}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command-line helpers for installers: check a flow file, synthesise its prompts, make a fragment set.

    python -m ivr.tools check FLOW.toml            # errors (exit 1) and warnings, with file:line
    python -m ivr.tools prompts FLOW.toml CACHE    # synthesise every fixed TTS prompt into a cache dir
    python -m ivr.tools fragments OUTDIR           # a TTS-made WAV per say fragment (for say_mode = "fragments";
                                                   # replace them with studio recordings one by one)
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import wait
from pathlib import Path

from ivr import say
from ivr.flow import FlowError
from ivr.flow_config import load_flow
from ivr.tts import Tts, TtsError

_WORD = {v: k for k, v in say.FRAGMENT.items() if k != "号" and k != "星期天"} | {"oclock": "点", "minute": "分"}


def fragment_words() -> dict[str, str]:
    """Fragment name → the Mandarin word it says."""
    return {name: _WORD[name] for name in say.FRAGMENT_NAMES}


def make_fragments(outdir: Path, tts: Tts, names: list[str] | None = None) -> list[Path]:
    """Write ``<name>.wav`` (8 kHz A-law WAV) for each fragment, spoken by ``tts``."""
    from ivr.tts import write_atomic
    from ivr.voicemail import alaw_wav_header  # the same A-law WAV writer

    outdir.mkdir(parents=True, exist_ok=True)
    words = fragment_words()
    names = names or list(words)
    futures = {n: tts.request(words[n]) for n in names}
    wait(list(futures.values()))
    out = []
    for n, fut in futures.items():
        data = fut.result().read_bytes()
        path = outdir / f"{n}.wav"
        write_atomic(path, alaw_wav_header(len(data)) + data)
        out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ivr.tools", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("check", help="validate a flow file")
    p.add_argument("flow", type=Path)
    p = sub.add_parser("prompts", help="synthesise a flow's fixed TTS prompts")
    p.add_argument("flow", type=Path)
    p.add_argument("cache", type=Path)
    p = sub.add_parser("fragments", help="make a TTS fragment set")
    p.add_argument("outdir", type=Path)
    args = ap.parse_args(argv)

    if args.cmd == "fragments":
        tts = Tts(Path(args.outdir) / ".tts-cache")
        try:
            paths = make_fragments(args.outdir, tts)
        except TtsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            tts.close()
        print(f"{len(paths)} fragments in {args.outdir}")
        return 0
    try:
        flow = load_flow(args.flow)
    except FlowError as exc:
        for issue in exc.issues:
            print(f"error: {issue}", file=sys.stderr)
        return 1
    for w in flow.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.cmd == "check":
        print(f"{args.flow}: flow {flow.name!r} is valid ({len(flow.nodes)} nodes, {len(flow.warnings)} warnings)")
        return 0
    tts = Tts(args.cache)
    failed = 0
    try:
        for text, voice in flow.tts_texts():
            try:
                tts.synthesize(text, voice)
            except TtsError as exc:
                failed += 1
                print(f"error: {text!r}: {exc}", file=sys.stderr)
    finally:
        tts.close()
    print(f"{len(flow.tts_texts()) - failed} prompts ready in {args.cache}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

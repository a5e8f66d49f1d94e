"""The voicemail retrieval dialogue, sans I/O: box number, PIN, counts, play / replay / save / delete /
next, greeting recording. One ``MailboxSession`` per caller who dialled the voicemail feature code.

Like ``FlowRun`` it takes ``ivr.events`` inputs (``Digit``, ``PromptDone``, ``TimerFired``,
``RecordingDone``, ``HungUp``) plus ``StoreResult`` and returns actions: the flow's ``Play``,
``StopPlay``, ``Listen``, ``ArmTimer``, ``CancelTimer``, ``StartRecording``, ``HangupRequest`` and a
``StoreRequest`` for the voicemail store. Store work is blocking (LMDB with fsync, file I/O): the
daemon runs ``run_store_request(vm, request)`` on a worker thread and feeds back
``StoreResult(request.id, value)``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr import say
from ivr.events import (
    Action,
    ArmTimer,
    AudioItem,
    CancelTimer,
    Digit,
    HangupRequest,
    HungUp,
    Listen,
    Play,
    PromptDone,
    PromptFile,
    RecordingDone,
    StartRecording,
    StopPlay,
    TimerFired,
    TtsText,
)
from ivr.voicemail import Message, PinResult, Voicemail, VoicemailError

PROMPTS = {
    "enter_box": "请输入信箱号码，以井号键结束",
    "no_box": "信箱号码不存在",
    "enter_pin": "请输入密码，以井号键结束",
    "wrong_pin": "密码错误",
    "locked": "密码错误次数过多，信箱已锁定，请稍后再试，再见",
    "main_menu": "收听新留言请按1，收听已保存留言请按2，录制问候语请按3，退出请按星号键",
    "no_messages": "没有留言",
    "after_message": "重听请按1，保存请按2，删除请按3，下一条请按井号键，返回请按星号键",
    "saved": "留言已保存",
    "deleted": "留言已删除",
    "no_more": "没有更多留言了",
    "greeting": "请在提示音后录制问候语，按井号键结束",
    "greeting_saved": "问候语已保存",
    "invalid": "对不起，您的输入有误",
    "goodbye": "再见",
}


@dataclass(frozen=True)
class StoreRequest:
    """Voicemail store work for a worker thread: ``op`` is check_pin, messages, save, delete or
    set_greeting; see ``run_store_request``."""

    id: int
    op: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoreResult:
    """The return value of ``run_store_request`` (or the ``VoicemailError`` it raised)."""

    request_id: int
    value: Any
    now: float


def run_store_request(vm: Voicemail, req: StoreRequest) -> Any:
    """Carry out a ``StoreRequest`` (blocking; on a worker thread). Errors are returned, not raised."""
    a = req.args
    try:
        if req.op == "check_pin":
            return vm.check_pin(a["box"], a["pin"])
        if req.op == "messages":
            return vm.messages(a["box"], a["folder"])
        if req.op == "save":
            return vm.save(a["box"], a["id"])
        if req.op == "delete":
            return vm.delete(a["box"], a["id"])
        if req.op == "set_greeting":
            from ivr.tts import wav_to_alaw
            return vm.set_greeting(a["box"], wav_to_alaw(Path(a["path"]).read_bytes()))
    except (VoicemailError, OSError) as exc:
        return VoicemailError(str(exc))
    return VoicemailError(f"unknown store op {req.op!r}")


class MailboxSession:
    """One caller in their mailbox. ``box_kind`` is the kind of the number the caller types."""

    MAX_TRIES = 3
    KEY_TIMEOUT_S = 8.0

    def __init__(self, *, now: float, box: str | None = None, box_kind: str = "extension",
                 voice: str | None = None, prompts: dict[str, str] | None = None, utc_offset_min: int = 480) -> None:
        """``utc_offset_min``: the box's zone, in which a message's date and time are read out."""
        self.now = now
        self.zone = dt.timezone(dt.timedelta(minutes=utc_offset_min))
        self.box = box
        self.box_kind = box_kind
        self.voice = voice
        self.prompts = {**PROMPTS, **(prompts or {})}
        self.done = False
        self.log: list[str] = []
        self._out: list[Action] = []
        self._ids = 0
        self._state = ""
        self._play: int | None = None
        self._timer: int | None = None
        self._request: int | None = None
        self._record: int | None = None
        self._digits = ""
        self._tries = 0
        self._folder = "new"
        self._msgs: list[Message] = []
        self._index = 0
        self._after: str = ""  # what to do when the current play ends
        self._after_store = ""  # "saved" / "deleted": the prompt after a store request

    # ---- public -----------------------------------------------------------------------------------------

    def start(self) -> list[Action]:
        self._out.append(Listen(True))
        if self.box:
            self._ask("pin", "enter_pin")
        else:
            self._ask("box", "enter_box")
        return self._flush()

    def handle(self, event: Any) -> list[Action]:
        self.now = event.now
        if self.done:
            return []
        if isinstance(event, HungUp):
            self._end(None)
        elif isinstance(event, Digit):
            self._on_digit(event.key)
        elif isinstance(event, PromptDone) and event.play_id == self._play:
            self._play = None
            self._on_play_done()
        elif isinstance(event, TimerFired) and event.timer_id == self._timer:
            self._timer = None
            self._on_timeout()
        elif isinstance(event, StoreResult) and event.request_id == self._request:
            self._request = None
            self._on_result(event.value)
        elif isinstance(event, RecordingDone) and event.record_id == self._record:
            self._record = None
            self._request_store("set_greeting", box=self.box, path=event.path)
            self._state = "greeting-store"
        return self._flush()

    # ---- plumbing ---------------------------------------------------------------------------------------

    def _flush(self) -> list[Action]:
        out, self._out = self._out, []
        return out

    def _id(self) -> int:
        self._ids += 1
        return self._ids

    def _text(self, *parts: str) -> TtsText:
        return TtsText("".join(parts), self.voice)

    def _say(self, items: list[AudioItem], after: str, barge_in: bool = True) -> None:
        self._stop()
        self._play = self._id()
        self._after = after
        self._out.append(Play(self._play, tuple(items), barge_in))

    def _prompt(self, *names: str, after: str = "", barge_in: bool = True) -> None:
        self._say([self._text(self.prompts[n]) for n in names], after, barge_in)

    def _stop(self) -> None:
        if self._play is not None:
            self._out.append(StopPlay(self._play))
            self._play = None
        if self._timer is not None:
            self._out.append(CancelTimer(self._timer))
            self._timer = None

    def _arm(self, seconds: float) -> None:
        self._timer = self._id()
        self._out.append(ArmTimer(self._timer, self.now + seconds))

    def _request_store(self, op: str, **args: Any) -> None:
        self._request = self._id()
        self._out.append(StoreRequest(self._request, op, args))

    def _end(self, goodbye: str | None, cause: int = 16) -> None:
        if goodbye:
            self._prompt(goodbye, after="hangup", barge_in=False)
            self._state = "bye"
            return
        self._stop()
        self._out.append(Listen(False))
        self._out.append(HangupRequest(cause, "voicemail session ended"))
        self.done = True

    # ---- states -----------------------------------------------------------------------------------------

    def _ask(self, state: str, *prompt: str) -> None:
        """Prompt for digits (box number or PIN) ended by # or the key timeout."""
        self._state = state
        self._digits = ""
        self._prompt(*prompt, after="wait-digits")

    def _menu(self, *prefix: str) -> None:
        self._state = "menu"
        self._prompt(*prefix, "main_menu", after="wait-key")

    def _announce(self, msgs: list[Message]) -> None:
        """Counts after login or on return to the main menu."""
        new = sum(m.folder == "new" for m in msgs)
        saved = len(msgs) - new
        text = f"您有{say.count(new).text}条新留言，{say.count(saved).text}条已保存留言"
        self._state = "menu"
        self._say([self._text(text), self._text(self.prompts["main_menu"])], "wait-key")

    def _play_message(self) -> None:
        m = self._msgs[self._index]
        when = dt.datetime.fromtimestamp(m.received, self.zone)
        head = f"第{say.number(self._index + 1).text}条留言"
        if m.caller.isdigit():
            head += f"，来电号码{say.digits(m.caller).text}"
        head += f"，{say.date(when.date(), weekday=False, year=False).text}{say.time(when.time()).text}"
        self._state = "message"
        self.log.append(f"play {m.id}")
        self._say([self._text(head), PromptFile(m.id, m.file)], "after-message")

    def _next_message(self, *prefix: str) -> None:
        self._index += 1
        if self._index < len(self._msgs):
            if prefix:
                self._prompt(*prefix, after="play-message", barge_in=False)
            else:
                self._play_message()
        else:
            self._state = "menu"
            self._prompt(*prefix, "no_more", "main_menu", after="wait-key")

    # ---- inputs -----------------------------------------------------------------------------------------

    def _on_play_done(self) -> None:
        after = self._after
        if after == "hangup":
            self._end(None)
        elif after in ("wait-digits", "wait-key"):
            self._arm(self.KEY_TIMEOUT_S)
        elif after == "after-message":
            self._state = "after"
            self._prompt("after_message", after="wait-key")
        elif after == "play-message":
            self._play_message()
        elif after == "record-greeting":
            self._record = self._id()
            self._state = "recording"
            self._out.append(StartRecording(self._record, 60.0, 3.0, "#", True))

    def _on_timeout(self) -> None:
        if self._state in ("box", "pin") and self._digits:
            self._submit()
            return
        self._tries += 1
        if self._tries >= self.MAX_TRIES:
            self._end("goodbye")
        elif self._state in ("box", "pin"):
            self._ask(self._state, "enter_box" if self._state == "box" else "enter_pin")
        elif self._state == "after":
            self._prompt("after_message", after="wait-key")
        else:
            self._menu()

    def _on_digit(self, key: str) -> None:
        if self._state in ("bye", "recording", "greeting-store", "checking", "loading", "storing"):
            return  # the recorder handles its own terminator
        if self._play is not None:
            self._stop()  # barge-in
        if self._timer is not None:
            self._out.append(CancelTimer(self._timer))
            self._timer = None
        self.log.append(f"key {key}")
        if self._state in ("box", "pin"):
            if key == "#":
                self._submit()
            elif key.isdigit():
                self._digits += key
                if len(self._digits) >= 12:
                    self._submit()
                else:
                    self._arm(self.KEY_TIMEOUT_S / 2)
            return
        if self._state == "menu":
            if key in ("1", "2"):
                self._folder = "new" if key == "1" else "saved"
                self._state = "loading"
                self._request_store("messages", box=self.box, folder=self._folder)
            elif key == "3":
                self._state = "greeting"
                self._prompt("greeting", after="record-greeting", barge_in=False)
            elif key == "*":
                self._end("goodbye")
            else:
                self._menu("invalid")
        elif self._state in ("after", "message"):
            m = self._msgs[self._index]
            if key == "1":
                self._play_message()
            elif key == "2":
                self._state = "storing"
                self._after_store = "saved"
                self._request_store("save", box=self.box, id=m.id)
            elif key == "3":
                self._state = "storing"
                self._after_store = "deleted"
                self._request_store("delete", box=self.box, id=m.id)
            elif key == "#":
                self._next_message()
            elif key == "*":
                self._state = "loading-all"
                self._request_store("messages", box=self.box, folder=None)
            else:
                self._prompt("invalid", "after_message", after="wait-key")
                self._state = "after"

    def _submit(self) -> None:
        digits, self._digits = self._digits, ""
        if self._state == "box":
            if not digits:
                self._ask("box", "invalid", "enter_box")
                return
            self.box = f"{self.box_kind}:{digits}"
            self._ask("pin", "enter_pin")
        else:
            self._state = "checking"
            self._request_store("check_pin", box=self.box, pin=digits)

    def _on_result(self, value: Any) -> None:
        state = self._state
        if isinstance(value, VoicemailError):
            self.log.append(f"store error: {value}")
            if state == "checking":  # no such box: ask again (without telling whether it exists)
                self._tries += 1
                if self._tries >= self.MAX_TRIES:
                    self._end("goodbye")
                else:
                    self.box = None
                    self._ask("box", "wrong_pin", "enter_box")
            else:
                self._menu("invalid")
            return
        if state == "checking":
            assert isinstance(value, PinResult)
            if value.ok:
                self.log.append("logged in")
                self._tries = 0
                self._state = "loading-all"
                self._request_store("messages", box=self.box, folder=None)
            elif value.locked:
                self.log.append("locked")
                self._end("locked")
            else:
                self._ask("pin", "wrong_pin", "enter_pin")
        elif state == "loading-all":
            self._announce(value)
        elif state == "loading":
            self._msgs, self._index = list(value), 0
            if not self._msgs:
                self._menu("no_messages")
            else:
                self._play_message()
        elif state == "storing":
            self.log.append(f"{self._after_store} {self._msgs[self._index].id}")
            self._next_message(self._after_store)
        elif state == "greeting-store":
            self._menu("greeting_saved")

"""The flow interpreter: one ``FlowRun`` per call, sans I/O.

``FlowRun(flow, caller=..., now=..., wall=...)``; ``start()`` and ``handle(input)`` return the actions
to carry out (``ivr.events``). The run keeps the path the call took, the keys pressed and the flow's
variables (``summary()``: for the screen pop and the CDR). It reads no clock: time comes with every
input as the loop's ``now``, and wall-clock time (for schedules) is ``wall`` at start plus the loop
time elapsed since.

Per node kind (see docs/ivr.md for the keys):

* play, say, hangup, transfer-with-prompt, record-with-prompt: a ``Play``; its ``PromptDone`` moves on.
* menu: prompt with barge-in; a key picks a choice, ``back_key`` goes to the previous menu,
  ``operator_key`` to the flow's operator node; anything else plays the invalid prompt and the menu
  again; silence for ``timeout_s`` after the prompt follows ``on_timeout`` or, without one, counts
  like a wrong key; after ``retries`` failures: ``fallback``.
* collect: keys until ``max_digits``, the terminator or the inter-digit timeout; fewer than
  ``min_digits`` is a failure, like a menu's.
* schedule, callers, set: decided at once. lookup: a ``LookupRequest`` and a timer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ivr import say
from ivr.events import (
    Action,
    ArmTimer,
    AudioItem,
    CancelTimer,
    Digit,
    HangupRequest,
    HungUp,
    Input,
    Listen,
    LookupAnswer,
    LookupFailed,
    LookupRequest,
    Play,
    PromptDone,
    PromptFile,
    RecordingDone,
    StartRecording,
    StopPlay,
    TimerFired,
    TransferFailed,
    TransferRequest,
    TtsText,
)
from ivr.flow import (
    Callers,
    Collect,
    Flow,
    Hangup,
    Lookup,
    Menu,
    Node,
    ScheduleBranch,
    SetVars,
    Transfer,
    render,
)
from ivr.flow import Play as PlayNode
from ivr.flow import Record as RecordNode
from ivr.flow import Say as SayNode

MAX_STEPS_WITHOUT_INPUT = 100  # validation forbids such loops; this guards a flow built in code


@dataclass(frozen=True)
class Step:
    """One entry of the path: at loop time ``t`` at ``node``, ``what`` happened; ``enter``: the call
    entered ``node`` then, and ``what`` says why (``key 1``, ``schedule open at ...``, ``timeout branch``)."""

    t: float
    node: str
    what: str
    enter: bool = False


class FlowRun:
    """One call's walk through a flow."""

    def __init__(self, flow: Flow, caller: str | None = None, called: str | None = None, *, now: float = 0.0,
                 wall: dt.datetime | None = None, variables: dict[str, str] | None = None) -> None:
        self.flow = flow
        self.t0 = now
        self.wall0 = wall or dt.datetime.now(dt.UTC)
        self.now = now
        self.variables: dict[str, str] = {"caller": caller or "", "called": called or "", **(variables or {})}
        self.caller = caller
        self.path: list[Step] = []
        self.keys: list[tuple[str, str]] = []  # (node, key) for every key the flow used
        self.done = False
        self.outcome: str = ""  # "transfer queue booking", "hangup", "caller hung up" ...
        self.node: Node | None = None
        self._out: list[Action] = []
        self._ids = 0
        self._play: int | None = None
        self._timer: int | None = None
        self._lookup: int | None = None
        self._record: int | None = None
        self._listening = False
        self._phase = ""  # what the current node waits for
        self._failures = 0
        self._entered: list[str] = []  # collected keys of the current collect node
        self._typeahead: list[str] = []
        self._menus: list[str] = []  # menu history for the back key
        self._steps_since_input = 0

    # ---- public ---------------------------------------------------------------------------------------

    def start(self) -> list[Action]:
        """Enter the start node."""
        self._goto(self.flow.start, "start")
        return self._flush()

    def handle(self, event: Input) -> list[Action]:
        """Feed one input; return the actions it causes (none for a stale or irrelevant input)."""
        self.now = event.now
        if self.done:
            return []
        if isinstance(event, HungUp):
            self._log(self.node.name if self.node else "", "caller hung up")
            self._cancel_timer()
            if self._play is not None:
                self._play = None
            self._finish("caller hung up")
        elif isinstance(event, Digit):
            self._steps_since_input = 0
            self._on_digit(event.key)
        elif isinstance(event, PromptDone):
            if event.play_id == self._play:
                self._play = None
                self._on_prompt_done()
        elif isinstance(event, TimerFired):
            if event.timer_id == self._timer:
                self._timer = None
                self._on_timeout()
        elif isinstance(event, LookupAnswer | LookupFailed):
            if event.request_id == self._lookup:
                self._on_lookup(event)
        elif isinstance(event, RecordingDone):
            if event.record_id == self._record:
                self._on_recording(event)
        elif isinstance(event, TransferFailed):
            self._on_transfer_failed(event.reason)
        return self._flush()

    @property
    def in_ivr(self) -> bool:
        """False once the call has left the flow: hung up, or handed to a transfer (a ``TransferFailed``
        brings it back to the transfer node's ``on_fail``)."""
        return not self.done and self._phase != "transferring"

    @property
    def wall(self) -> dt.datetime:
        """Wall-clock time now (start time plus loop time elapsed)."""
        return self.wall0 + dt.timedelta(seconds=self.now - self.t0)

    def summary(self) -> dict[str, object]:
        """What travels with the call: nodes visited, keys pressed, variables, how it left the IVR."""
        return {
            "flow": self.flow.name,
            "path": [s.node for s in self.path if s.enter],
            "steps": [(round(s.t - self.t0, 3), s.node, s.what) for s in self.path],
            "keys": "".join(k for _, k in self.keys),
            "keys_by_node": [list(k) for k in self.keys],
            "variables": dict(self.variables),
            "outcome": self.outcome,
        }

    # ---- plumbing -------------------------------------------------------------------------------------

    def _flush(self) -> list[Action]:
        out, self._out = self._out, []
        return out

    def _id(self) -> int:
        self._ids += 1
        return self._ids

    def _log(self, node: str, what: str, enter: bool = False) -> None:
        self.path.append(Step(self.now, node, what, enter))

    def _listen(self, on: bool) -> None:
        if on != self._listening:
            self._listening = on
            self._out.append(Listen(on))

    def _arm(self, seconds: float) -> None:
        self._cancel_timer()
        self._timer = self._id()
        self._out.append(ArmTimer(self._timer, self.now + seconds))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._out.append(CancelTimer(self._timer))
            self._timer = None

    def _stop_play(self) -> None:
        if self._play is not None:
            self._out.append(StopPlay(self._play))
            self._play = None

    def _items(self, names: tuple[str, ...] | list[str]) -> list[AudioItem]:
        items: list[AudioItem] = []
        for name in names:
            p = self.flow.prompts[name]
            if p.file:
                items.append(PromptFile(name, p.file))
            elif p.tts is not None:
                items.append(TtsText(self._render(p.tts), p.voice or self.flow.voice))
        return items

    def _render(self, text: str) -> str:
        try:
            return render(text, self.variables)
        except (KeyError, ValueError):
            return ""

    def _play_items(self, items: list[AudioItem], barge_in: bool) -> bool:
        """Start playing; False if there is nothing to play (the caller of this moves on at once)."""
        items = [i for i in items if not isinstance(i, TtsText) or i.text.strip()]
        if not items:
            return False
        self._stop_play()
        self._play = self._id()
        self._out.append(Play(self._play, tuple(items), barge_in))
        return True

    def _finish(self, outcome: str) -> None:
        self._cancel_timer()
        self._stop_play()
        self._listen(False)
        self.done = True
        self.outcome = outcome
        self.node = None

    def _goto(self, name: str, why: str) -> None:
        self._steps_since_input += 1
        if self._steps_since_input > MAX_STEPS_WITHOUT_INPUT:
            self._log(name, "loop without input: hung up")
            self._out.append(HangupRequest(16, "IVR loop without input"))
            self._finish("error: loop without input")
            return
        self._cancel_timer()
        self._stop_play()
        self._lookup = self._record = None
        node = self.flow.nodes[name]
        self.node = node
        self._failures = 0
        self._entered = []
        self._phase = ""
        self._log(name, why, enter=True)
        self._enter(node)

    # ---- entering nodes -------------------------------------------------------------------------------

    def _enter(self, node: Node) -> None:
        if isinstance(node, Menu):
            if node.name in self._menus:  # back at a menu seen before: what was after it is forgotten
                del self._menus[self._menus.index(node.name) + 1:]
            else:
                self._menus.append(node.name)
            self._listen(True)
            self._prompt_menu(node.prompt)
        elif isinstance(node, Collect):
            self._listen(True)
            self._prompt_menu(node.prompt)
        elif isinstance(node, PlayNode):
            self._listen(node.barge_in)
            items = self._items(node.prompt)
            if node.tts:
                items.append(TtsText(self._render(node.tts), self.flow.voice))
            self._phase = "play"
            if not self._play_items(items, node.barge_in):
                self._goto(node.next, "next")
        elif isinstance(node, SayNode):
            self._listen(False)
            self._enter_say(node)
        elif isinstance(node, ScheduleBranch):
            self._listen(False)
            state = self.flow.schedules[node.schedule].state(self.wall)
            target = node.holiday if state == "holiday" and node.holiday else node.open if state == "open" \
                else node.closed
            self._goto(target, f"schedule {state} at {self.wall.isoformat(timespec='minutes')}")
        elif isinstance(node, Callers):
            self._listen(False)
            self._enter_callers(node)
        elif isinstance(node, Lookup):
            self._listen(False)
            self._enter_lookup(node)
        elif isinstance(node, SetVars):
            for k, v in node.vars.items():
                self.variables[k] = self._render(v)
            self._goto(node.next, "next")
        elif isinstance(node, Transfer):
            self._listen(False)
            self._phase = "transfer-prompt"
            if not self._play_items(self._items(node.prompt), False):
                self._transfer(node)
        elif isinstance(node, RecordNode):
            self._listen(False)
            self._phase = "record-prompt"
            if not self._play_items(self._items(node.prompt), False):
                self._start_recording(node)
        elif isinstance(node, Hangup):
            self._listen(False)
            self._phase = "hangup-prompt"
            if not self._play_items(self._items(node.prompt), False):
                self._hangup(16, "flow ended")

    def _prompt_menu(self, prompt: tuple[str, ...], before: tuple[str, ...] = ()) -> None:
        """(Re)play a menu's or collect's prompt with barge-in, or act on keys typed ahead."""
        self._phase = "prompt"
        if self._typeahead:  # a key pressed into a barge-in play before this node: act on it now
            self._phase = "wait"
            self._on_digit(self._typeahead.pop(0))
            return
        if not self._play_items(self._items((*before, *prompt)), True):
            self._on_prompt_done()

    def _enter_say(self, node: SayNode) -> None:
        try:
            said = say.say(node.say_as, render(node.value, self.variables))
        except (KeyError, ValueError) as exc:
            self._goto(node.on_error or node.next, f"say failed: {exc}")
            return
        items = self._items(node.before)
        if self.flow.say_mode == "fragments" and self.flow.fragment_dir:
            items += [PromptFile(f, str(Path(self.flow.fragment_dir) / f"{f}.wav")) for f in said.fragments]
        else:
            items.append(TtsText(said.text, self.flow.voice))
        items += self._items(node.after)
        self._phase = "play"
        self._log(node.name, f"say {node.say_as}: {said.text}")
        if not self._play_items(items, False):
            self._goto(node.next, "next")

    def _enter_callers(self, node: Callers) -> None:
        if node.blacklist and self.flow.lists[node.blacklist].matches(self.caller):
            if node.blacklist_action == "drop":
                self._log(node.name, "blacklisted: dropped")
                self._hangup(21, "blacklisted caller")
            else:
                self._log(node.name, "blacklisted: warned")
                self._phase = "blacklist-warning"
                if not self._play_items(self._items(node.warning), False):
                    self._hangup(21, "blacklisted caller")
            return
        if node.whitelist and node.whitelist_to and self.flow.lists[node.whitelist].matches(self.caller):
            self._goto(node.whitelist_to, "whitelisted")
            return
        self._goto(node.next, "next")

    def _enter_lookup(self, node: Lookup) -> None:
        timeout = node.timeout_s or self.flow.lookups[node.lookup].timeout_s
        params = {k: self._render(v) for k, v in node.params.items()}
        self._lookup = self._id()
        self._phase = "lookup"
        self._out.append(LookupRequest(self._lookup, node.lookup, params, timeout))
        self._arm(timeout)
        self._play_items(self._items(node.wait_prompt), False)

    def _start_recording(self, node: RecordNode) -> None:
        self._phase = "record"
        self._record = self._id()
        self._out.append(StartRecording(self._record, node.max_s, node.silence_s, node.terminator, node.beep))
        self._listen(bool(node.terminator))

    def _transfer(self, node: Transfer) -> None:
        target = self._render(node.target)
        self._phase = "transferring"
        self._log(node.name, f"transfer to {node.to} {target}")
        self._out.append(TransferRequest(node.to, target))
        self.outcome = f"transfer {node.to} {target}"

    def _hangup(self, cause: int, reason: str) -> None:
        self._out.append(HangupRequest(cause, reason))
        self._finish(f"hangup: {reason}")

    # ---- inputs ---------------------------------------------------------------------------------------

    def _on_digit(self, key: str) -> None:
        node = self.node
        if isinstance(node, Menu):
            self._menu_digit(node, key)
        elif isinstance(node, Collect):
            self._collect_digit(node, key)
        elif isinstance(node, PlayNode) and node.barge_in and self._phase == "play":
            self._typeahead.append(key)
            self._goto(node.next, f"barge-in {key}")
        # keys anywhere else are not listened for: dropped

    def _menu_digit(self, node: Menu, key: str) -> None:
        if self._phase == "prompt":
            self._stop_play()
        self._cancel_timer()
        self._phase = "wait"
        flow = self.flow
        if key in node.choices:
            self.keys.append((node.name, key))
            self._goto(node.choices[key], f"key {key}")
        elif node.back and key == flow.back_key and len(self._menus) >= 2:
            self.keys.append((node.name, key))
            self._menus.pop()
            self._goto(self._menus[-1], f"key {key}: back")
        elif node.operator and key == flow.operator_key and flow.operator:
            self.keys.append((node.name, key))
            self._goto(flow.operator, f"key {key}: operator")
        else:
            self.keys.append((node.name, key))
            self._fail(node, node.invalid_prompt, f"invalid key {key}")

    def _collect_digit(self, node: Collect, key: str) -> None:
        if self._phase == "prompt":
            self._stop_play()
            self._phase = "wait"
        self._cancel_timer()
        if not self._entered and key == self.flow.back_key and key != node.terminator and len(self._menus) >= 1:
            self.keys.append((node.name, key))
            self._goto(self._menus[-1], f"key {key}: back")
            return
        self.keys.append((node.name, key))
        if node.terminator and key == node.terminator:
            self._collect_end(node, "terminator")
            return
        if key not in "0123456789":
            self._fail(node, node.invalid_prompt, f"invalid key {key}")
            return
        self._entered.append(key)
        if len(self._entered) >= node.max_digits:
            self._collect_end(node, "max digits")
        else:
            self._arm(node.inter_digit_timeout_s)

    def _collect_end(self, node: Collect, why: str) -> None:
        got = "".join(self._entered)
        if len(got) < node.min_digits:
            self._fail(node, node.invalid_prompt, f"too few digits {got!r} ({why})")
            return
        self.variables[node.into] = got
        self._goto(node.next, f"collected {got} ({why})")

    def _fail(self, node: Menu | Collect, prompt: tuple[str, ...], what: str) -> None:
        self._failures += 1
        self._entered = []
        self._log(node.name, what)
        if self._failures >= node.retries:
            self._goto(node.fallback, f"fallback after {self._failures} failures")
            return
        self._typeahead = []
        self._prompt_menu(node.prompt, before=prompt)

    def _on_prompt_done(self) -> None:
        node = self.node
        if isinstance(node, Menu) and self._phase == "prompt":
            self._phase = "wait"
            self._arm(node.timeout_s)
        elif isinstance(node, Collect) and self._phase == "prompt":
            self._phase = "wait"
            self._arm(node.first_digit_timeout_s)
        elif isinstance(node, PlayNode | SayNode) and self._phase == "play":
            self._goto(node.next, "next")
        elif isinstance(node, Transfer) and self._phase == "transfer-prompt":
            self._transfer(node)
        elif isinstance(node, RecordNode) and self._phase == "record-prompt":
            self._start_recording(node)
        elif isinstance(node, Hangup) and self._phase == "hangup-prompt":
            self._hangup(16, "flow ended")
        elif isinstance(node, Callers) and self._phase == "blacklist-warning":
            self._hangup(21, "blacklisted caller")

    def _on_timeout(self) -> None:
        node = self.node
        if isinstance(node, Menu):
            self._log(node.name, "timeout")
            if node.on_timeout:
                self._goto(node.on_timeout, "timeout branch")
            else:
                self._fail(node, node.timeout_prompt, "no key")
        elif isinstance(node, Collect):
            if self._entered:
                self._collect_end(node, "inter-digit timeout")
            else:
                self._fail(node, node.timeout_prompt, "no key")
        elif isinstance(node, Lookup) and self._phase == "lookup":
            self._lookup = None
            self._goto(node.fallback, "lookup timed out")

    def _on_lookup(self, event: LookupAnswer | LookupFailed) -> None:
        node = self.node
        assert isinstance(node, Lookup)
        self._lookup = None
        self._cancel_timer()
        self._stop_play()
        if isinstance(event, LookupFailed):
            self._goto(node.fallback, f"lookup failed: {event.reason}")
        elif event.data is None:
            self._goto(node.not_found or node.fallback, "lookup: not found")
        else:
            for k, v in event.data.items():
                self.variables[f"{node.into}.{k}"] = str(v)
            self._goto(node.next, "lookup answered")

    def _on_recording(self, event: RecordingDone) -> None:
        node = self.node
        assert isinstance(node, RecordNode)
        self._record = None
        self.variables[node.into] = event.path
        self._goto(node.next, f"recorded {event.seconds:.1f} s ({event.reason})")

    def _on_transfer_failed(self, reason: str) -> None:
        node = self.node
        if not isinstance(node, Transfer) or self._phase != "transferring":
            return
        self._log(node.name, f"transfer failed: {reason}")
        if node.on_fail:
            self.outcome = ""
            self._goto(node.on_fail, "transfer failed")
        else:
            self._hangup(16, f"transfer failed: {reason}")

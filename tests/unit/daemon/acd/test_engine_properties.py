"""Property: whatever happens, in whatever order (logins, pauses, calls, answers at the wrong phone,
failed rings, hang-ups, callbacks, calls handed on to another extension, time passing; with a night bell
ringing always, or only while nobody is staffed or the queue is closed), no agent is left reserved without an outstanding
offer, no offer outlives its ring timeout, and every phone the ACD set ringing is stopped or answered."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.acd.agents import AgentError, AgentState
from tests.unit.daemon.acd.support import Rig

CONFIG = """
[acd]
pause_after_missed = 2
pause_reasons = { 1 = "lunch" }

[[agent]]
id = "1001"
groups = ["a"]
wrap_up_s = 3
[[agent]]
id = "1002"
groups = ["a", "b"]
[[agent]]
id = "1003"
groups = ["b"]

[[queue]]
name = "all"
groups = ["a"]
strategy = "ring_all"
ring_timeout_s = 5
max_wait_s = 40
overflow = "queue:one"
always_ring = ["8009"]

[[queue]]
name = "one"
groups = ["b"]
strategy = "sticky"
ring_timeout_s = 4
wrap_up_s = 2
max_length = 3
max_wait_s = 30
overflow = "callback"
announce_first_s = 3
announce_every_s = 5
"""

AGENTS = ["1001", "1002", "1003"]
EXTS = ["8001", "8002", "8003", "8009"]
CALLS = [f"c{i}" for i in range(6)]
CALLERS = ["13800000001", "13800000002", None]

op = st.one_of(
    st.tuples(st.just("login"), st.sampled_from(AGENTS), st.sampled_from(EXTS)),  # 8009 is a night bell
    st.tuples(st.just("logout"), st.sampled_from(AGENTS)),
    st.tuples(st.just("pause"), st.sampled_from(AGENTS)),
    st.tuples(st.just("resume"), st.sampled_from(AGENTS)),
    st.tuples(st.just("arrive"), st.sampled_from(CALLS), st.sampled_from(["all", "one"]), st.sampled_from(CALLERS)),
    st.tuples(st.just("answer"), st.integers(0, 7)),  # the i-th phone ringing now (if any)
    st.tuples(st.just("answer_wrong"), st.sampled_from(CALLS), st.sampled_from(EXTS)),  # a phone not rung
    st.tuples(st.just("fail"), st.integers(0, 7)),
    st.tuples(st.just("hangup"), st.sampled_from(CALLS)),
    st.tuples(st.just("callback"), st.sampled_from(CALLS)),
    st.tuples(st.just("wait"), st.floats(0, 12)),
    st.tuples(st.just("transfer"), st.integers(0, 7), st.sampled_from(EXTS)),  # handed on, answered at EXT
)


def ringing_by_engine(r: Rig) -> set[tuple[str, str]]:
    e = r.engine
    out = {(a.extension, a.offer.call) for a in e.agents if a.offer is not None}
    return out | {(ext, call) for ext, call in e.bell_busy.items()}


# the night bell rings only while nobody of "all" is staffed or outside 08:01-08:02 (T0 is 08:00)
BELL_CONFIG = CONFIG.replace('always_ring = ["8009"]', 'always_ring = ["8009"]\n'
                             'always_ring_when = "no_agents_or_closed"\n'
                             'open_hours = [{ from = "08:01", to = "08:02" }]')


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=5, max_size=80))
def test_no_stale_reserved_state(ops: list[tuple]) -> None:
    play(CONFIG, ops)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=5, max_size=80))
def test_no_stale_state_with_a_bell_that_comes_and_goes(ops: list[tuple]) -> None:
    play(BELL_CONFIG, ops)


def play(config: str, ops: list[tuple]) -> None:
    r = Rig(config)
    e = r.engine
    for i, aid in enumerate(AGENTS):  # everyone starts logged in (ops log them out, move them, ...)
        e.login(aid, "", EXTS[i], r.at(0))
    t = 0.0
    phones: set[tuple[str, str]] = set()  # (extension, call) the host was told to ring and not yet told to stop
    seen = 0

    def sync() -> None:  # follow what the host was told
        nonlocal seen
        for entry in r.host.log[seen:]:
            if entry[0] == "ring":
                assert entry[2] not in {ext for ext, _ in phones}, f"rang {entry[2]} for two calls at once"
                phones.add((entry[2], entry[3]))
            elif entry[0] == "stop_ring":
                phones.discard((entry[2], entry[3]))
            elif entry[0] in ("connect", "dial_back"):
                phones.discard((entry[3], entry[2]))
        seen = len(r.host.log)

    for o in ops:
        t += 0.5
        now = r.at(t)
        sync()
        try:
            match o:
                case ("login", aid, ext):
                    e.login(aid, "", ext, now)
                case ("logout", aid):
                    e.logout(aid, now)
                case ("pause", aid):
                    e.pause(aid, "1", now)
                case ("resume", aid):
                    e.resume(aid, now)
                case ("arrive", call, queue, caller):
                    e.call_arrived(call, queue, caller, now)
                case ("answer", i) if phones:
                    ext, call = sorted(phones)[i % len(phones)]
                    assert e.answered(call, ext, now)
                case ("answer_wrong", call, ext) if (ext, call) not in phones:
                    assert not e.answered(call, ext, now)
                case ("fail", i) if phones:
                    ext, call = sorted(phones)[i % len(phones)]
                    phones.discard((ext, call))
                    e.ring_failed(call, ext, now)
                case ("hangup", call):
                    e.hangup(call, now)
                case ("callback", call):
                    e.callback_accepted(call, None, now)
                case ("wait", dt):
                    t += dt
                    r.at(t)
                case ("transfer", i, ext) if e.talking:
                    call = sorted(e.talking)[i % len(e.talking)]
                    queue = e.talking[call].queue
                    e.hangup(call, now)  # the agent hands it on ...
                    e.transfer_answered(call, queue, ext, now)  # ... and whoever is at EXT may take it
        except AgentError:
            pass
        sync()
        assert e.invariant_errors() == [], (o, e.invariant_errors())
        assert phones == ringing_by_engine(r), o
        for a in e.agents:
            assert (a.state is AgentState.RESERVED) == (a.offer is not None)
            assert a.offer is None or a.offer.deadline > r.host.t, f"{a.id}'s offer outlived its timeout"
    # and in the end, once every call is gone and time passes, nobody is reserved or busy
    for call in CALLS:
        e.hangup(call, r.at(t + 1))
    r.at(t + 100)
    assert all(a.state in (AgentState.IDLE, AgentState.PAUSED, AgentState.LOGGED_OUT) for a in e.agents)
    sync()
    assert phones == set(), "phones left ringing"
    assert e.entries == {} and e.talking == {} and e.bell_busy == {}

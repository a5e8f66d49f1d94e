"""Queue order, position, estimated wait, announcement schedule, max wait and max length."""

from daemon.acd.config import QueueConfig
from daemon.acd.queues import Announce, Entry, EntryKind, Music, OverflowDue, Queue
from daemon.acd.strategies import Caller


def entry(call: str, t: float, priority: int = 0, seq: int = 0) -> Entry:
    return Entry(call, "q", Caller(call), priority, t, seq, t)


def test_order_position_and_callbacks_keep_their_place() -> None:
    q = Queue(QueueConfig("q"))
    for i, (call, prio) in enumerate([("a", 0), ("b", 0), ("vip", 5), ("c", 0)]):
        q.join(entry(call, float(i), prio, i), float(i))
    assert [e.call for e in q.ordered()] == ["vip", "a", "b", "c"]
    q.get("a").kind = EntryKind.CALLBACK
    assert q.position("a") == 2 and q.position("c") == 4 and q.live_count() == 3
    q.leave("vip")
    assert q.position("a") == 1 and q.position("nobody") is None


def test_ewt_from_recent_handle_times() -> None:
    q = Queue(QueueConfig("q", default_handle_s=100), recent_calls=3)
    assert q.ewt(2, 2) == 100 and q.ewt(1, 0) is None
    for h in (10, 20, 30, 40):  # only the last 3 count: mean 30
        q.record_handle(h)
    assert q.aht() == 30 and q.ewt(3, 2) == 45 and q.ewt(1, 4) == 8  # ceil(7.5)


def test_announcement_schedule_and_max_wait() -> None:
    q = Queue(QueueConfig("q", announce_first_s=10, announce_every_s=20, max_wait_s=65, music="moh.alaw"))
    assert q.join(entry("a", 0), 0) == [Music("a", "moh.alaw")]
    assert q.tick(9.9, 1) == [] and q.next_wakeup() == 10
    assert q.tick(10, 1) == [Announce("a", 1, 180)]
    assert q.next_wakeup() == 30 and q.tick(29, 1) == []
    q.get("a").ringing.add("1001")  # ringing: no announcement ...
    assert q.tick(30, 1) == []
    q.get("a").ringing.clear()
    assert q.tick(31, 1) == [Announce("a", 1, 180)]  # ... it is due once the ring ends
    assert q.next_wakeup() == 50
    q.get("a").ringing.add("1001")
    assert q.tick(65, 1) == [OverflowDue("a", "max_wait")]  # but max wait applies while ringing too


def test_announcements_off_and_max_length() -> None:
    q = Queue(QueueConfig("q", announce_every_s=0, max_length=2))
    assert q.join(entry("a", 0), 0) == [Music("a", "")]
    q.join(entry("b", 1, seq=1), 1)
    assert q.join(entry("c", 2, seq=2), 2) == [OverflowDue("c", "max_length")]
    assert q.tick(1000, 1) == [] and q.next_wakeup() is None
    q.get("a").kind = EntryKind.CALLBACK  # callbacks do not hold lines: room for another call
    q.leave("c")
    assert q.join(entry("d", 3, seq=3), 3) == [Music("d", "")]


def test_position_only_or_wait_only() -> None:
    q = Queue(QueueConfig("q", announce_first_s=0, announce_every_s=30, announce_wait=False))
    q.join(entry("a", 0), 0)
    assert q.tick(0, 2) == [Announce("a", 1, None)]

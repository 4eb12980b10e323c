"""The embedded broker (config/broker.py): whole messages, leases, redelivery, bindings shared
between processes. Each test uses its own SQLite file through kombu's public API."""

import contextlib
import multiprocessing
import threading
import time

import pytest
from kombu import Connection, Consumer, Exchange, Producer, Queue

from config import broker


def connect(path, **options) -> Connection:
    return Connection(
        "sqlite://",
        transport_options={"path": str(path), "polling_interval": 0.01, **options},
    )


def publish(path, bodies, queue="work"):
    with connect(path) as conn:
        producer = Producer(conn.default_channel, serializer="json")
        for body in bodies:
            producer.publish(body, routing_key=queue, declare=[Queue(queue)])


def receive(conn, queue="work", *, ack=True, limit=None, timeout=0.5, no_ack=False) -> list:
    """Drain `queue` on `conn` until it is quiet for `timeout` (or `limit` arrived). The tests
    publish before they receive, and a message handed out twice would be there at the next
    poll (every 10 ms; a lease's redelivery takes its visibility timeout, 30 s): half a second
    of quiet shows there is no second one (it was 2 s: 12 s of this module's waiting)."""
    got = []

    def on_message(body, message):
        got.append((body, message))
        if ack and not no_ack:
            message.ack()

    with Consumer(conn, [Queue(queue)], callbacks=[on_message], no_ack=no_ack):
        while limit is None or len(got) < limit:
            try:
                conn.drain_events(timeout=timeout)
            except TimeoutError:
                break
    return got


def rows(path) -> int:
    import sqlite3

    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM message").fetchone()[0]


def test_the_sqlite_scheme_names_this_transport(tmp_path):
    # A file of its own: the process's default broker file may be held by a worker thread
    # another test left stopping (this waited out SQLite's 10 s busy timeout once).
    with connect(tmp_path / "b.sqlite3") as conn:
        assert conn.transport_cls == "sqlite"
        assert isinstance(conn.transport, broker.Transport)


def test_a_message_arrives_whole_once_and_is_gone_after_its_ack(tmp_path):
    path = tmp_path / "b.sqlite3"
    publish(path, [{"n": 1, "text": "é" * 10_000}])
    with connect(path) as conn:
        got = receive(conn)
    assert [body for body, _ in got] == [{"n": 1, "text": "é" * 10_000}]
    assert rows(path) == 0
    with connect(path) as conn:
        assert receive(conn, timeout=0.3) == []


def test_a_message_whose_consumer_died_is_handed_out_again_after_the_lease(tmp_path):
    path = tmp_path / "b.sqlite3"
    publish(path, [{"task": "x"}])
    dead = connect(path, visibility_timeout=1)
    [(body, message)] = receive(dead, ack=False, limit=1)
    assert not message.delivery_info.get("redelivered")
    # The consumer vanishes without acking or closing (as under kill -9): nothing restores it.
    dead.default_channel.qos.restore_at_shutdown = False

    with connect(path, visibility_timeout=1) as other:
        assert receive(other, timeout=0.3) == []  # still leased
        time.sleep(1.1)
        [(again, message)] = receive(other, limit=1)
    assert again == {"task": "x"}
    assert message.delivery_info["redelivered"] is True
    assert rows(path) == 0


def test_a_live_consumer_keeps_its_lease_while_it_works(tmp_path):
    path = tmp_path / "b.sqlite3"
    publish(path, [{"task": "long"}])
    with connect(path, visibility_timeout=1) as busy, connect(path, visibility_timeout=1) as idle:
        [(_, message)] = receive(busy, ack=False, limit=1)
        deadline = time.monotonic() + 2.5  # 2.5 leases
        while time.monotonic() < deadline:
            # The worker's loop keeps polling while its task runs; that renews the lease.
            with contextlib.suppress(TimeoutError):
                busy.drain_events(timeout=0.1)
            assert receive(idle, timeout=0.05) == []
        message.ack()
    assert rows(path) == 0


def test_a_requeued_message_comes_back_once_not_twice(tmp_path):
    path = tmp_path / "b.sqlite3"
    publish(path, [{"task": "retry-me"}])
    with connect(path) as conn:
        [(_, message)] = receive(conn, ack=False, limit=1)
        message.requeue()
        again = receive(conn)
    assert [body for body, _ in again] == [{"task": "retry-me"}]
    assert rows(path) == 0


def test_a_clean_shutdown_hands_unacked_messages_back_at_once(tmp_path):
    path = tmp_path / "b.sqlite3"
    publish(path, [{"task": "held"}])
    conn = connect(path, visibility_timeout=3600)
    receive(conn, ack=False, limit=1)
    conn.release()  # closes the channel: unacked messages are restored, not duplicated
    with connect(path) as other:
        assert [body for body, _ in receive(other)] == [{"task": "held"}]
    assert rows(path) == 0


def test_a_consumer_with_every_slot_busy_wakes_on_the_ack_not_on_the_polling_sleep(
    tmp_path, monkeypatch
):
    # A worker with all its prefetch slots taken used to sleep a polling interval after each
    # ack before taking the next task (8 tasks a second); the ack itself must wake it.
    from kombu.transport.virtual import base

    path = tmp_path / "b.sqlite3"
    publish(path, [{"n": 1}, {"n": 2}])
    got = []
    conn = connect(path)
    with conn, Consumer(conn, [Queue("work")], callbacks=[lambda b, m: got.append(m)]) as consumer:
        consumer.qos(prefetch_count=1)
        conn.drain_events(timeout=5)
        slept = []
        monkeypatch.setattr(base, "sleep", slept.append)
        threading.Timer(0.2, got[0].ack).start()  # the pool's result thread acks
        conn.drain_events(timeout=5)
        got[1].ack()
    assert [m.payload for m in got] == [{"n": 1}, {"n": 2}]
    assert slept == []


def test_a_no_ack_consumer_takes_messages_for_good(tmp_path):
    path = tmp_path / "b.sqlite3"
    publish(path, [{"reply": 1}])
    with connect(path) as conn:
        assert [b for b, _ in receive(conn, no_ack=True)] == [{"reply": 1}]
    assert rows(path) == 0


def test_fanout_reaches_queues_bound_by_another_connection(tmp_path):
    path = tmp_path / "b.sqlite3"
    exchange = Exchange("broadcast", type="fanout")
    with connect(path) as a, connect(path) as b:
        qa, qb = Queue("a.q", exchange), Queue("b.q", exchange)
        qa(a.default_channel).declare()
        qb(b.default_channel).declare()
        with connect(path) as publisher:  # knows nothing of the bindings in its own memory
            Producer(publisher.default_channel).publish(
                {"ping": True}, exchange=exchange, declare=[exchange]
            )
        assert [body for body, _ in receive(a, "a.q")] == [{"ping": True}]
        assert [body for body, _ in receive(b, "b.q")] == [{"ping": True}]


def _publish_many(path, start, count, size):
    publish(path, [{"n": n, "pad": "x" * size} for n in range(start, start + count)])


@pytest.mark.slow
def test_concurrent_writers_and_readers_never_see_a_partial_message(tmp_path):
    # The filesystem transport's crash: a reader polling while writers write large messages.
    path = tmp_path / "b.sqlite3"
    writers = [
        multiprocessing.get_context("spawn").Process(
            target=_publish_many, args=(path, n * 250, 250, 20_000)
        )
        for n in range(4)
    ]
    for process in writers:
        process.start()
    seen = []
    with connect(path) as one, connect(path) as two:
        deadline = time.monotonic() + 60
        while len(seen) < 1000 and time.monotonic() < deadline:
            for conn in (one, two):
                seen += [body["n"] for body, _ in receive(conn, limit=25, timeout=0.2)]
    for process in writers:
        process.join(10)
        assert process.exitcode == 0
    assert sorted(seen) == list(range(1000))
    assert rows(path) == 0

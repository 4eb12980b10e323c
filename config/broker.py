"""The embedded Celery broker: a kombu transport on one SQLite file under `var/`.

Why not kombu's own embedded transports:

- `filesystem://` writes a message in place; a worker polling the folder can read the file
  before its bytes are there and dies with `JSONDecodeError` (it did, after 4½ minutes of
  `make run`). Here a message is one row, written in one transaction: it is either wholly
  there or not at all.
- `sqla+sqlite://` (kombu's SQLAlchemy transport) is atomic too, but it marks a message
  invisible when it is handed out and forgets it: a worker killed with -9 mid-task loses the
  task (kombu only requeues unacknowledged messages on a clean shutdown), and it keeps no
  bindings, so `celery inspect ping` (the health check) cannot reach a worker in another
  process.

So this transport leases instead of forgetting, like SQS or Redis' visibility timeout: a
handed-out message stays in its table, reserved until a deadline; the consumer that holds it
renews the lease while it is alive, deletes the row on ack and clears the reservation on a
requeue. If the consumer dies, the lease runs out and the message is handed out again (with
`redelivered` set): at-least-once delivery, which the hub's tasks are written for (they claim
their work with conditional updates). Exchange bindings live in the same file, so fanout and
direct replies reach other processes (remote control, `ping`).

PostgreSQL + Redis or RabbitMQ stay the production path; this is for `make run` on one machine.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from queue import Empty

from kombu.transport import TRANSPORT_ALIASES, virtual

SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    created REAL NOT NULL,
    reserved_until REAL,
    owner TEXT,
    deliveries INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS message_ready ON message (queue, reserved_until, id);
CREATE INDEX IF NOT EXISTS message_owner ON message (owner);
CREATE TABLE IF NOT EXISTS binding (
    exchange TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    pattern TEXT NOT NULL,
    queue TEXT NOT NULL,
    PRIMARY KEY (exchange, routing_key, pattern, queue)
);
"""

# Remote-control messages are only useful for a few seconds (Celery stamps them with a short
# expiry); those left in the mailbox of a worker that never came back are swept after this.
CONTROL_MESSAGE_MAX_AGE = 600.0


class Channel(virtual.Channel):
    supports_fanout = True
    # Seconds a handed-out, unacknowledged message stays reserved for its consumer. The
    # consumer renews the lease every third of it; a dead one's messages return after it.
    visibility_timeout = 30.0
    from_transport_options = (
        *virtual.Channel.from_transport_options,
        "visibility_timeout",
        "path",
    )
    path = "broker.sqlite3"

    def __init__(self, connection, **kwargs):
        super().__init__(connection, **kwargs)
        # The lease owner: one per channel, so renewals and crash recovery are per consumer.
        self._owner = uuid.uuid4().hex
        self._no_ack_queues: set[str] = set()
        self._renewed_at = time.monotonic()
        # Set on every ack or reject: a consumer whose prefetch slots are all taken waits on
        # it instead of the transport's polling sleep, so the next task starts at once.
        self._settled = threading.Event()
        self._swept_at = 0.0
        # Acks may come from another thread than the one polling (thread pools): one
        # connection, used under a lock.
        self._lock = threading.Lock()
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)

    def close(self):
        super().close()  # requeues what this channel still holds (through _restore)
        with self._lock:
            self._db.close()

    # --- one statement per operation, each its own transaction -----------------------------
    def _execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # --- messages ------------------------------------------------------------------------
    def _put(self, queue, message, **kwargs):
        self._execute(
            "INSERT INTO message (queue, payload, created) VALUES (?, ?, ?)",
            (queue, json.dumps(message), time.time()),
        )

    def _get(self, queue):
        now = time.time()
        # A read first: an idle poll takes no write lock from the web and the other processes.
        if not self._execute(
            "SELECT 1 FROM message WHERE queue = ? AND (reserved_until IS NULL OR reserved_until < ?) LIMIT 1",
            (queue, now),
        ):
            raise Empty()
        if queue in self._no_ack_queues:
            # No acknowledgement will come for this consumer: the message is taken for good.
            rows = self._execute(
                "DELETE FROM message WHERE id = (SELECT id FROM message WHERE queue = ? "
                "AND (reserved_until IS NULL OR reserved_until < ?) ORDER BY id LIMIT 1) "
                "RETURNING id, payload, deliveries",
                (queue, now),
            )
        else:
            rows = self._execute(
                "UPDATE message SET reserved_until = ?, owner = ?, deliveries = deliveries + 1 "
                "WHERE id = (SELECT id FROM message WHERE queue = ? "
                "AND (reserved_until IS NULL OR reserved_until < ?) ORDER BY id LIMIT 1) "
                "RETURNING id, payload, deliveries - 1",
                (now + self.visibility_timeout, self._owner, queue, now),
            )
        if not rows:  # another consumer took it between the read and the claim
            raise Empty()
        row_id, payload, earlier_deliveries = rows[0]
        message = json.loads(payload)
        message["properties"]["delivery_info"]["sqlite_id"] = row_id
        if earlier_deliveries:
            message["redelivered"] = True
            message["properties"]["delivery_info"]["redelivered"] = True
        return message

    def _row_id(self, delivery_tag):
        try:
            return self.qos.get(delivery_tag).delivery_info.get("sqlite_id")
        except KeyError:
            return None

    def basic_ack(self, delivery_tag, multiple=False):
        row_id = self._row_id(delivery_tag)
        if row_id is not None:
            self._execute("DELETE FROM message WHERE id = ?", (row_id,))
        super().basic_ack(delivery_tag, multiple=multiple)
        self._settled.set()

    def basic_reject(self, delivery_tag, requeue=False):
        if not requeue:
            row_id = self._row_id(delivery_tag)
            if row_id is not None:
                self._execute("DELETE FROM message WHERE id = ?", (row_id,))
        super().basic_reject(delivery_tag, requeue=requeue)  # a requeue goes to _restore
        self._settled.set()

    def _restore(self, message):
        # The row is still there, reserved: handing it back is clearing the reservation
        # (kombu's default would publish a second copy).
        row_id = message.delivery_info.get("sqlite_id")
        if row_id is None:
            return super()._restore(message)
        self._execute(
            "UPDATE message SET reserved_until = NULL, owner = NULL WHERE id = ?", (row_id,)
        )

    def drain_events(self, timeout=None, callback=None):
        # Called on every poll of the consumer's loop, also while the prefetch limit is
        # reached and tasks run: the place where a live consumer keeps its leases.
        now = time.monotonic()
        if now - self._renewed_at >= self.visibility_timeout / 3:
            self._renewed_at = now
            self._execute(
                "UPDATE message SET reserved_until = ? WHERE owner = ? AND reserved_until IS NOT NULL",
                (time.time() + self.visibility_timeout, self._owner),
            )
        if now - self._swept_at >= 60:
            self._swept_at = now
            self._execute(
                "DELETE FROM message WHERE queue LIKE '%.pidbox' AND created < ?",
                (time.time() - CONTROL_MESSAGE_MAX_AGE,),
            )
        # Every prefetch slot holds a running task: wake on the ack that frees one (it comes
        # from the pool's result thread) rather than sleep the transport's polling interval.
        deadline = now + 1.0
        while self._consumers and not self.qos.can_consume():
            self._settled.clear()  # before the check: an ack after it sets it again
            if self.qos.can_consume() or not self._settled.wait(deadline - time.monotonic()):
                break
        return super().drain_events(timeout=timeout, callback=callback)

    def basic_consume(self, queue, no_ack, *args, **kwargs):
        if no_ack:
            self._no_ack_queues.add(queue)
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def basic_cancel(self, consumer_tag):
        queue = self._tag_to_queue.get(consumer_tag)
        self._no_ack_queues.discard(queue)
        return super().basic_cancel(consumer_tag)

    def basic_get(self, queue, no_ack=False, **kwargs):
        if not no_ack:
            return super().basic_get(queue, no_ack=no_ack, **kwargs)
        self._no_ack_queues.add(queue)
        try:
            return super().basic_get(queue, no_ack=no_ack, **kwargs)
        finally:
            self._no_ack_queues.discard(queue)

    def _size(self, queue):
        return self._execute(
            "SELECT count(*) FROM message WHERE queue = ? AND reserved_until IS NULL", (queue,)
        )[0][0]

    def _purge(self, queue):
        # Like AMQP's purge: the ready messages go, those a consumer holds stay.
        return len(
            self._execute(
                "DELETE FROM message WHERE queue = ? AND reserved_until IS NULL RETURNING id",
                (queue,),
            )
        )

    # --- bindings, shared by every process using the file -------------------------------------
    def _queue_bind(self, exchange, routing_key, pattern, queue):
        self._execute(
            "INSERT OR IGNORE INTO binding VALUES (?, ?, ?, ?)",
            (exchange, routing_key or "", pattern or "", queue),
        )

    def get_table(self, exchange):
        return [
            (routing_key, pattern or None, queue)
            for routing_key, pattern, queue in self._execute(
                "SELECT routing_key, pattern, queue FROM binding WHERE exchange = ?", (exchange,)
            )
        ]

    def _put_fanout(self, exchange, message, routing_key, **kwargs):
        for _, _, queue in self.get_table(exchange):
            self._put(queue, message)

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "DELETE FROM binding WHERE exchange = ? AND routing_key = ? AND queue = ?",
                (exchange, routing_key or "", queue),
            )
            self._db.execute("DELETE FROM message WHERE queue = ?", (queue,))


class Transport(virtual.Transport):
    Channel = Channel
    driver_type = "sqlite"
    driver_name = "sqlite3"
    # The queue is polled: every 0.25 s keeps a button's task starting promptly.
    polling_interval = 0.25
    implements = virtual.Transport.implements.extend(
        asynchronous=False, exchange_type=frozenset(["direct", "topic", "fanout"])
    )

    def driver_version(self):
        return sqlite3.sqlite_version


# `sqlite://` in CELERY_BROKER_URL names this transport (kombu resolves aliases by name).
TRANSPORT_ALIASES.setdefault("sqlite", "config.broker:Transport")

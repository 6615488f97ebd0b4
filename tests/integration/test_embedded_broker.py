"""The embedded broker keeps what kombu's memory:// would lose: a message fetched but not
acknowledged when the process dies is delivered again after a restart; an acked one is not."""

from __future__ import annotations

from kombu import Consumer, Exchange, Producer, Queue

from shared.bus import durable
from shared.bus.connection import connect


def _declare(conn):
    ex = Exchange("t.events", type="topic", durable=True)
    q = Queue("t.queue", exchange=ex, routing_key="a.#", durable=True)
    q(conn.default_channel).declare()
    return ex, q


def _publish(conn, ex, keys):
    producer = Producer(conn.channel())
    for key in keys:
        producer.publish({"key": key}, exchange=ex, routing_key=key, serializer="json")


def _drain(conn, q, ack: bool, limit: int):
    got = []

    def on_message(body, message):
        got.append(body["key"])
        if ack:
            message.ack()

    with Consumer(conn.channel(), queues=[q], callbacks=[on_message], accept=["json"], prefetch_count=limit):
        for _ in range(20):
            if len(got) >= limit:
                break
            try:
                conn.drain_events(timeout=0.1)
            except TimeoutError:
                pass
    return got


def test_unacked_message_survives_restart_and_acked_does_not(tmp_path):
    url = f"embedded://{tmp_path / 'broker.sqlite'}"
    conn = connect(url)
    ex, q = _declare(conn)
    _publish(conn, ex, ["a.one", "a.two", "b.ignored"])
    assert _drain(conn, q, ack=True, limit=1) == ["a.one"]
    # fetch a.two but "crash" before acking: drop the process state without closing channels
    conn2 = connect(url)
    channel = conn2.channel()
    msg = channel.basic_get("t.queue", no_ack=False)
    assert msg is not None and msg.payload == {"key": "a.two"}
    channel.qos.restore_at_shutdown = False  # a kill -9 runs no shutdown hooks
    durable.reset_process_state(str(tmp_path / "broker.sqlite"))

    fresh = connect(url)
    _, q = _declare(fresh)
    assert _drain(fresh, q, ack=True, limit=1) == ["a.two"]  # redelivered after restart
    assert _drain(fresh, q, ack=True, limit=1) == []  # a.one was acked; b.* never routed
    fresh.release()


def test_topic_routing_and_requeue(tmp_path):
    conn = connect(f"embedded://{tmp_path / 'broker.sqlite'}")
    ex, q = _declare(conn)
    _publish(conn, ex, ["a.x.y", "c.z"])
    channel = conn.channel()
    msg = channel.basic_get("t.queue", no_ack=False)
    assert msg.payload == {"key": "a.x.y"}
    msg.reject(requeue=True)
    again = channel.basic_get("t.queue", no_ack=False)
    assert again.payload == {"key": "a.x.y"}
    again.ack()
    assert channel.basic_get("t.queue", no_ack=False) is None
    conn.release()

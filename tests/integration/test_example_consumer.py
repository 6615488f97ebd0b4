"""The README's integration example really receives the platform's events (RabbitMQ only:
an outside service connects over AMQP, which the embedded broker does not offer)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from support import ROOT
from test_flow import register_certified


@pytest.mark.real_only
def test_example_consumer_prints_a_certification(platform, api):
    name = f"test-{uuid.uuid4().hex[:6]}"
    url = os.environ["OCOP_BROKER_URL"].replace("//", "/%2F").replace("amqp:/%2F", "amqp://")
    proc = subprocess.Popen(
        [
            sys.executable,
            "examples/consumer.py",
            "--url",
            url,
            "--name",
            name,
            "--max",
            "1",
            "--keys",
            "registry.certification.granted",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        import pika

        # wait until the example's queue exists and is bound before causing the event
        from support import wait_for

        def bound():
            conn = pika.BlockingConnection(pika.URLParameters(url))
            try:
                conn.channel().queue_declare(f"ext.{name}", passive=True)
                return True
            except pika.exceptions.ChannelClosedByBroker:
                return False
            finally:
                if conn.is_open:
                    conn.close()

        wait_for(bound, timeout=20, message="example queue declared")
        register_certified(api, name="Cơ sở Bánh phồng Sơn Đốc")
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        conn = pika.BlockingConnection(pika.URLParameters(url))
        conn.channel().queue_delete(f"ext.{name}")
        conn.close()
    assert proc.returncode == 0, err
    assert "certified: Kẹo dừa sầu riêng (4★) of Cơ sở Bánh phồng Sơn Đốc, Vĩnh Long" in out

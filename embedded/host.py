"""One process hosting the three services over the embedded (SQLite-backed) broker.

The services are the same code as in the real deployment; only configuration differs: a
``embedded://`` broker URL and one SQLite file per service. Each service keeps its own HTTP
port, so URLs are the same in both ways of running; the console port (8000) is the one origin serving
all three by path (embedded/origin.py), as nginx does in the real deployment.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from werkzeug.serving import make_server

from shared import config
from shared.web import runtime_of
from shared.worker import start

from .mailsink import Mailbox
from .mailsink import start as start_smtp
from .smssink import SmsBox
from .smssink import start as start_sms


@dataclass
class Host:
    apps: dict = field(default_factory=dict)
    runtimes: dict = field(default_factory=dict)
    mailbox: Mailbox | None = None
    smsbox: SmsBox | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    _servers: list = field(default_factory=list)
    _threads: list = field(default_factory=list)
    _smtp: object = None
    _sms: object = None

    def urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{config.port(name)}" for name in ("console", *config.SERVICES)}

    def start(self, demo: bool = True, smtp_sink: bool = True, http: bool = True, sms_sink: bool = True) -> Host:
        from services.events.app import create_app as events_app
        from services.events.worker import loops as events_loops
        from services.notifications.app import create_app as notifications_app
        from services.notifications.worker import loops as notifications_loops
        from services.registry.app import create_app as registry_app
        from services.registry.worker import loops as registry_loops
        from shared import logs

        logs.setup("embedded")
        settings = {"notifications": self._sms_settings()} if sms_sink else {}
        factories = {"registry": registry_app, "events": events_app, "notifications": notifications_app}
        for name, factory in factories.items():
            self.apps[name] = factory(settings=settings.get(name), migrate=True)
            self.runtimes[name] = runtime_of(self.apps[name])
        if smtp_sink and config.process().smtp_sink:
            self.mailbox = Mailbox(config.data_dir() / "mailbox.sqlite")
            self._smtp = start_smtp(self.mailbox, port=self.runtimes["notifications"].settings.smtp_port)
        if demo:
            from . import demo as demo_data

            demo_data.load_registry(self.runtimes["registry"])
            demo_data.load_events(self.runtimes["events"])
            from . import demo_accounts

            self.accounts = demo_accounts.load(self.runtimes["registry"])  # printed at start (__main__)
        # One process owns these databases: a delivery left "sending" by a kill is in doubt at once,
        # and this host's sinks can say whether its message arrived.
        loops = (
            registry_loops(self.runtimes["registry"])
            + events_loops(self.runtimes["events"])
            + notifications_loops(self.runtimes["notifications"], lookup=self.delivered, sole_sender=True)
        )
        self._declare_topology()
        self._threads = start(loops, self.stop)
        if http:
            from .console import create_console
            from .origin import one_origin

            apps = {**self.apps, "console": one_origin(create_console(self), self.apps)}
            for name, app in apps.items():
                server = make_server("127.0.0.1", config.port(name), app, threaded=True)
                self._servers.append(server)
                t = threading.Thread(target=server.serve_forever, name=f"http-{name}", daemon=True)
                t.start()
        return self

    def delivered(self, channel: str, delivery_id: str) -> bool:
        """Whether this host's sink received a delivery's message (False: it cannot tell)."""
        if channel == "email" and self.mailbox is not None:
            return self.mailbox.has_delivery(delivery_id)
        if channel == "sms" and self.smsbox is not None:
            return self.smsbox.has_reference(delivery_id)
        return False

    def _sms_settings(self):
        """With no SMS gateway configured, the embedded SMS sink is the gateway (OCOP_SMS_SINK=0: none),
        so a new user sees the text messages too; it listens on a free port (OCOP_SMS_SINK_PORT)."""
        settings = config.load("notifications")
        if not config.process().sms_sink or settings.sms_gateway_url:
            return None
        self.smsbox = SmsBox(config.data_dir() / "sms.sqlite")
        self._sms = start_sms(self.smsbox, port=config.process().sms_sink_port)
        return replace(settings, sms_gateway_url=self._sms.url)

    def _declare_topology(self) -> None:
        """Every exchange, queue and binding, before any relay publishes. The embedded broker keeps
        bindings in this process's memory and each consumer thread declares only its own queue when
        it starts: a relay publishing its backlog (demo data, a restart's pending outbox) before,
        say, notifications.main is bound would route those events to no queue of that service."""
        from shared.bus.connection import connect, is_amqp
        from shared.bus.topology import declare

        url = self.runtimes["registry"].settings.broker_url
        conn = connect(url)
        try:
            conn.ensure_connection(max_retries=3)
            declare(conn, is_amqp(url))
        finally:
            conn.release()

    def shutdown(self) -> None:
        self.stop.set()
        for server in self._servers:
            server.shutdown()
        for t in self._threads:
            t.join(timeout=10)
        if self._smtp is not None:
            self._smtp.stop()
        if self._sms is not None:
            self._sms.stop()
        for rt in self.runtimes.values():
            rt.engine.dispose()

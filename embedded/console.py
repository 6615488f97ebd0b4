"""The embedded default's own pages at the one origin (http://127.0.0.1:8000, embedded/origin.py):
``/`` leads to the console (``/registry/console/``); ``/dev/`` is the developer's page: where
everything is, demo tokens, and what the platform sent: the mailbox (SMTP sink, ``/dev/mail``) and the
text messages (SMS sink, ``/dev/sms``), side by side.

The developer's page hands out officers' tokens, so it answers only requests addressed to it by name: the Host must be
127.0.0.1, localhost or [::1] with the console's port, or one of ``OCOP_CONSOLE_HOSTS`` (comma
separated ``name:port``); any other Host gets 421 (a DNS-rebinding page, whose requests name the
attacker's host, reads nothing). Its pages carry the headers of shared/pages.py; an email's own HTML
is shown under a sandboxing policy (no script, a unique origin)."""

from __future__ import annotations

from flask import Flask, abort, g, redirect, render_template_string, request

from shared import config, pages, signing
from shared.auth import issue_token

PAGE = """<!doctype html><html lang="vi"><meta charset="utf-8"><title>OCOP – embedded</title>
<style nonce="{{ nonce }}">body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:.1rem .3rem;word-break:break-all}
td{padding:.2rem .6rem;border-bottom:1px solid #eee;vertical-align:top}
.sent{display:flex;gap:2rem;flex-wrap:wrap}.sent>section{flex:1 1 30rem;min-width:0}
.sms{font-size:.9rem}.meta{color:#666;font-size:.8rem;white-space:nowrap}</style>
<h1>OCOP trade promotion – embedded default</h1>
<p><a href="/registry/console/">The console</a> (sign in as an officer)</p>
<h2>Services</h2><ul>{% for name, url in urls.items() if name != 'console' %}
<li>{{ name }}: <a href="{{ url }}/openapi.json">{{ url }}</a>
(<a href="{{ url }}/readyz">readyz</a>, <a href="{{ url }}/metrics">metrics</a>)</li>{% endfor %}</ul>
<h2>Demo tokens</h2><table>{% for role, token in tokens.items() %}
<tr><td>{{ role }}</td><td><code>{{ token }}</code></td></tr>{% endfor %}</table>
<div class="sent">
<section><h2><a href="/dev/mail">Mailbox</a> (SMTP sink)</h2>
{% if mails is none %}<p>No SMTP sink in this process (OCOP_SMTP_SINK=0).</p>{% else %}
<table>{% for id, at, rcpt, subject in mails %}
<tr><td><a href="/dev/mail/{{ id }}">{{ id }}</a></td><td class="meta">{{ at[:19] }}</td><td>{{ rcpt }}</td>
<td>{{ subject }}</td></tr>{% else %}<tr><td>No email yet.</td></tr>{% endfor %}</table>{% endif %}</section>
<section><h2><a href="/dev/sms">Text messages</a> (SMS sink)</h2>
{% if sms is none %}<p>No SMS sink in this process (an SMS gateway is configured, or OCOP_SMS_SINK=0).</p>
{% else %}<table class="sms">{% for id, at, to, text, segments, encoding in sms %}
<tr><td>{{ id }}</td><td class="meta">{{ at[:19] }}<br>{{ to }}<br>{{ segments }} × {{ encoding }}</td>
<td>{{ text }}</td></tr>{% else %}<tr><td>No text message yet.</td></tr>{% endfor %}</table>{% endif %}</section>
</div></html>"""

MAIL = """<!doctype html><meta charset="utf-8"><p><a href="/dev/">← developer page</a></p>
<p><b>To:</b> {{ msg['To'] }}<br><b>Subject:</b> {{ msg['Subject'] }}</p><hr>
{% if html %}{{ content|safe }}{% else %}<pre>{{ content }}</pre>{% endif %}"""


def allowed_hosts(port: int) -> frozenset[str]:
    """The Host values the console answers: loopback names with its port, and OCOP_CONSOLE_HOSTS."""
    extra = config.process().console_hosts
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", *extra})


def create_console(host) -> Flask:
    app = Flask("embedded.console")
    secret = signing.private_key(host.runtimes["registry"].settings)  # the registry issues tokens
    hosts = allowed_hosts(config.port("console"))

    @app.before_request
    def addressed_to_us():
        if not request.path.startswith("/dev/"):
            return None  # the redirect to the console: nothing handed out
        if request.headers.get("Host", "").lower() not in hosts:
            return (
                "Misdirected request: this console answers only at its own address.\n",
                421,
                {"Content-Type": "text/plain; charset=utf-8"},
            )
        return None

    @app.after_request
    def headers(response):
        return pages.secure(response, **g.get("csp", {}))

    def tokens():
        return {
            role: issue_token(secret, role, f"demo-{role}")
            for role in ("registry_officer", "trade_officer", "integration")
        }

    @app.get("/")
    def home():
        return redirect("/registry/console/")

    @app.get("/dev/")
    def index():
        return render_template_string(
            PAGE,
            nonce=pages.nonce(),
            urls=host.urls(),
            tokens=tokens(),
            mails=host.mailbox.list(50) if host.mailbox else None,
            sms=host.smsbox.list(50) if host.smsbox else None,
        )

    @app.get("/dev/mail")
    def mail():
        return index()

    @app.get("/dev/sms")
    def sms():
        return index()

    @app.get("/dev/mail/<int:mail_id>")
    def one(mail_id: int):
        msg = host.mailbox.get(mail_id) if host.mailbox else None
        if msg is None:
            abort(404)
        body = msg.get_body(preferencelist=("html", "plain"))
        # The email's own HTML is shown as it is (the platform's rendering, which escapes every value),
        # under a policy that lets it style itself and nothing more: no script, a unique origin.
        g.csp = {"inline_style_attributes": True, "sandbox": True}
        return render_template_string(
            MAIL, msg=msg, content=body.get_content(), html=body.get_content_type() == "text/html"
        )

    return app

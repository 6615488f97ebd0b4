"""The embedded console at http://127.0.0.1:8000: where everything is, demo tokens, the mailbox."""

from __future__ import annotations

from flask import Flask, abort, render_template_string
from markupsafe import escape

from shared.auth import issue_token

PAGE = """<!doctype html><html lang="vi"><meta charset="utf-8"><title>OCOP – embedded</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:.1rem .3rem;word-break:break-all}td{padding:.2rem .6rem;border-bottom:1px solid #eee}</style>
<h1>OCOP trade promotion – embedded default</h1>
<h2>Services</h2><ul>{% for name, url in urls.items() if name != 'console' %}
<li>{{ name }}: <a href="{{ url }}/openapi.json">{{ url }}</a> (<a href="{{ url }}/readyz">readyz</a>, <a href="{{ url }}/metrics">metrics</a>)</li>{% endfor %}</ul>
<h2>Demo tokens</h2><table>{% for role, token in tokens.items() %}<tr><td>{{ role }}</td><td><code>{{ token }}</code></td></tr>{% endfor %}</table>
{{ body|safe }}</html>"""


def create_console(host) -> Flask:
    app = Flask("embedded.console")
    secret = host.runtimes["registry"].settings.secret_key

    def tokens():
        return {role: issue_token(secret, role) for role in ("registry_officer", "trade_officer", "integration")}

    @app.get("/")
    def index():
        rows = "".join(f"<tr><td><a href='/mail/{i}'>{i}</a></td><td>{at[:19]}</td><td>{escape(rcpt)}</td><td>{escape(subj)}</td></tr>"
                       for i, at, rcpt, subj in host.mailbox.list(50)) if host.mailbox else ""
        body = f"<h2><a href='/mail'>Mailbox</a> (SMTP sink)</h2><table>{rows}</table>"
        return render_template_string(PAGE, urls=host.urls(), tokens=tokens(), body=body)

    @app.get("/mail")
    def mail():
        return index()

    @app.get("/mail/<int:mail_id>")
    def one(mail_id: int):
        msg = host.mailbox.get(mail_id) if host.mailbox else None
        if msg is None:
            abort(404)
        html = msg.get_body(preferencelist=("html", "plain"))
        content = html.get_content()
        if html.get_content_type() == "text/plain":
            content = f"<pre>{escape(content)}</pre>"
        return (f"<!doctype html><meta charset='utf-8'><p><a href='/'>← mailbox</a></p>"
                f"<p><b>To:</b> {escape(msg['To'])}<br><b>Subject:</b> {escape(msg['Subject'])}</p><hr>{content}")

    return app

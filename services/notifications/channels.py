"""Channel adapters: how a delivery leaves the service. Email over SMTP, SMS through an HTTP
gateway, webhooks to integrating services. Each ``send`` returns the provider's reference (or
None) or raises ChannelError, saying whether a retry can help. Errors never carry an address:
the text is redacted before it is stored or logged."""

from __future__ import annotations

import base64
import json
import re
import smtplib
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache

from shared.text import one_line

from . import domain, webhook_targets


class ChannelError(Exception):
    def __init__(
        self, message: str, permanent: bool = False, retry_after: float | None = None, status: int | None = None
    ):
        super().__init__(domain.redact(message))
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status


# ---- email --------------------------------------------------------------------------------------
@lru_cache(maxsize=1024)
def encoded_words(value: str, header: str) -> str:
    """RFC 2047 encoded words (UTF-8, each at most 75 characters, folded), spaces kept inside them.

    Python 3.11's email package folds a long non-ASCII header by putting the space between two
    words outside the encoded words, where decoders must drop it ("Trái cây Đồng" arrives as
    "Trái câyĐồng"); the legacy Header encoder keeps it, and ``set_raw`` stores the result as is."""
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=header).encode(linesep="\r\n")


def _b_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


@lru_cache(maxsize=4096)
def display_name_words(name: str, max_bytes: int = 45) -> str:
    """The recipient's whole name as RFC 2047 encoded words, each at most 75 characters (45 bytes of
    UTF-8), folded onto lines of their own. A long name is split after a space that stays inside the
    word before it: decoders drop the folding whitespace between two encoded words (RFC 2047, 6.2),
    so "Hợp tác xã Dịch vụ ... Thạnh Phú Đông" reads whole, never cut and never with words run
    together. (Python's own parser keeps that whitespace, showing a double space there.)"""
    chunks, chunk = [], ""
    for word in re.findall(r"\S+\s*|\s+", name):
        if len((chunk + word).encode("utf-8")) <= max_bytes:
            chunk += word
            continue
        if chunk:
            chunks.append(chunk)
        chunk = ""
        for ch in word:  # a word too long for one encoded word: split between characters
            if len((chunk + ch).encode("utf-8")) > max_bytes:
                chunks.append(chunk)
                chunk = ""
            chunk += ch
    if chunk:
        chunks.append(chunk)
    return "\r\n ".join(_b_word(c) for c in chunks)


def mailbox(addr: str | None) -> str:
    """An address as it may go into a header and an SMTP command: one ``local@domain`` token, with no
    space, control character or angle bracket (a line break there would add a header or a command)."""
    if not addr or not _MAILBOX.fullmatch(addr) or not addr.isprintable():
        raise ValueError(
            "the email address is not one plain address (it has spaces, control characters, angle brackets or no @)"
        )
    return addr


_MAILBOX = re.compile(r"[^\s<>@,;\\\"]+@[^\s<>@,;\\\"]+")
# A header's value: lines end in CRLF only where it folds (CRLF followed by a space), nowhere else.
_BARE_BREAK = re.compile(r"\r(?!\n[ \t])|(?<!\r)\n|\x00")


def _address(name: str | None, addr: str) -> str:
    """An address header's value: a Vietnamese name as one RFC 2047 word, folded before the address.
    The name is put on one line first (``one_line``): whatever the data says, it adds no header."""
    addr, name = mailbox(addr), one_line(name or "")
    if name and not name.isascii():
        return f"{display_name_words(name)}\r\n <{addr}>"
    return formataddr((name or "", addr))


def _base64(text: str) -> bytes:
    """UTF-8 text as base64 in 76-character lines ending in CRLF (7-bit safe, whatever the script)."""
    return base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")


def _part(content_type: str, text: str, extra: tuple[str, ...] = ()) -> bytes:
    head = [f"Content-Type: {content_type}", "Content-Transfer-Encoding: base64", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + _base64(text)


def _multipart(subtype: str, boundary: str, parts: list[bytes]) -> bytes:
    out = [f'Content-Type: multipart/{subtype};\r\n boundary="{boundary}"\r\n\r\n'.encode("ascii")]
    for part in parts:
        out.append(f"--{boundary}\r\n".encode("ascii") + part + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(out)


@lru_cache(maxsize=16)
def _from_header(mail_from: str) -> str:
    name, addr = parseaddr(mail_from)
    return _address(name, addr)


def email_bytes(delivery, to_name: str, to_addr: str, mail_from: str, date: datetime | None = None) -> bytes:
    """The message as it goes on the wire (CRLF, 7-bit): multipart/mixed of the text and HTML
    alternatives and the attachments (the fair's .ics), each part UTF-8 in base64; the subject and
    names as RFC 2047 encoded words.

    Assembled directly rather than by the email package's generator, which cost 2-3 ms a message
    here (more than rendering it); the output is checked by parsing it back with the standard
    library (tests/unit/test_notifications_templates.py). Boundaries contain "=_", which base64
    never produces, so no part can contain them."""
    head = [
        ("From", _from_header(mail_from)),
        ("To", _address(to_name, to_addr)),
        ("Subject", encoded_words(one_line(delivery.subject), "Subject")),
        ("Date", format_datetime(date or datetime.now(UTC), usegmt=True)),
        # A stable Message-ID: a message sent again after an interrupted attempt is recognisable.
        ("Message-ID", message_id(delivery.id)),
        ("X-OCOP-Delivery", delivery.id),
        ("Content-Language", delivery.language),
        ("MIME-Version", "1.0"),
    ]
    text = _part('text/plain; charset="utf-8"', delivery.body_text)
    if delivery.body_html:
        body = _multipart(
            "alternative", f"=_alt_{delivery.id}", [text, _part('text/html; charset="utf-8"', delivery.body_html)]
        )
    else:
        body = text
    attachments = delivery.attachments or []
    if attachments:
        parts = [body] + [
            _part(
                f'{a["content_type"].split(";")[0]}; charset="utf-8"'
                + "".join(f"; {p.strip()}" for p in a["content_type"].split(";")[1:]),
                a["content"],
                (f'Content-Disposition: attachment;\r\n filename="{a["filename"]}"',),
            )
            for a in attachments
        ]
        body = _multipart("mixed", f"=_mix_{delivery.id}", parts)
    if any(_BARE_BREAK.search(v) for _, v in head):  # a last guard: no value of ours may end the header early
        raise ValueError("a header value carries a line break")
    return "".join(f"{k}: {v}\r\n" for k, v in head).encode("ascii") + body


def message_id(delivery_id: str) -> str:
    """Derived from the delivery id alone (email.utils.make_msgid adds time, pid and a random part)."""
    return f"<{delivery_id}@ocop.local>"


class SmtpSession:
    """One SMTP connection kept open from message to message (a connection per message cost more
    than the message), opened when needed and closed after ``idle_seconds`` without use. A server
    that dropped the idle connection is noticed at MAIL FROM, before anything of the message was
    sent, so that one is retried at once on a fresh connection; any other failure closes the
    connection and is the caller's (a ChannelError says whether a retry can help)."""

    def __init__(self, host: str, port: int, timeout: float, idle_seconds: float = 30.0, clock=time.monotonic):
        self.host, self.port, self.timeout, self.idle_seconds, self.clock = host, port, timeout, idle_seconds, clock
        self.smtp: smtplib.SMTP | None = None
        self.used_at = 0.0

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        smtp.ehlo()
        return smtp

    def send(self, mail_from: str, rcpt: str, data: bytes) -> None:
        if self.smtp is not None and self.clock() - self.used_at > self.idle_seconds:
            self.close()
        try:
            if self.smtp is None:
                self.smtp = self._connect()
            # docmd rather than mail()/rcpt(): the addresses are ours and plain, not worth re-parsing
            try:
                code, answer = self.smtp.docmd("mail", f"FROM:<{mail_from}>")
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                self.close()
                self.smtp = self._connect()
                code, answer = self.smtp.docmd("mail", f"FROM:<{mail_from}>")
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, answer, mail_from)
            code, answer = self.smtp.docmd("rcpt", f"TO:<{rcpt}>")
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({rcpt: (code, answer)})
            code, answer = self.smtp.data(data)
            if code != 250:
                raise smtplib.SMTPDataError(code, answer)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
            self._reset()
            raise
        except Exception:
            self.close()
            raise
        self.used_at = self.clock()

    def _reset(self) -> None:
        """After a refusal the session stays usable once RSET clears the transaction."""
        try:
            self.smtp.rset()
            self.used_at = self.clock()
        except Exception:  # noqa: BLE001 - a broken session is simply reopened next time
            self.close()

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except Exception:  # noqa: BLE001
                try:
                    self.smtp.close()
                except Exception:  # noqa: BLE001
                    pass
            self.smtp = None

    def idle(self) -> None:
        if self.smtp is not None and self.clock() - self.used_at > self.idle_seconds:
            self.close()


class EmailChannel:
    name = "email"

    def __init__(self, settings):
        self.host, self.port, self.mail_from = settings.smtp_host, settings.smtp_port, settings.mail_from
        self.timeout = settings.http_timeout_seconds
        self.envelope_from = parseaddr(self.mail_from)[1]
        self.session = SmtpSession(self.host, self.port, self.timeout)

    configured = True

    @staticmethod
    def address(recipient) -> str | None:
        return recipient.email

    def send(self, delivery, recipient) -> str | None:
        try:
            data = email_bytes(delivery, recipient.name, recipient.email, self.mail_from)
        except ValueError as exc:  # an address that is not one (a name is cleaned, never refused)
            raise ChannelError(f"not sent: {exc}", permanent=True) from exc
        try:
            self.session.send(self.envelope_from, recipient.email, data)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise ChannelError(
                f"recipient refused ({', '.join(map(str, codes))})", permanent=all(c >= 500 for c in codes)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise ChannelError(f"SMTP {exc.smtp_code}: {text[:300]}", permanent=exc.smtp_code >= 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"{type(exc).__name__}: {str(exc)[:300]}") from exc
        return message_id(delivery.id)

    def idle(self) -> None:
        self.session.idle()

    def close(self) -> None:
        self.session.close()


# ---- HTTP (SMS gateway, webhooks) -----------------------------------------------------------------
def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """POST; returns (status, body) for a 2xx, raises ChannelError otherwise: 4xx other than 408
    and 429 is permanent (the request itself is wrong), anything else can be retried (Retry-After
    honoured)."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "ocop-notifications/1", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URL
            return response.status, response.read(65536)
    except urllib.error.HTTPError as exc:
        retry_after = _retry_after(exc.headers.get("Retry-After"))
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
        detail = exc.read(300).decode("utf-8", "replace") if exc.fp else ""
        raise ChannelError(
            f"HTTP {exc.code} {exc.reason}: {detail}".strip(),
            permanent=permanent,
            retry_after=retry_after,
            status=exc.code,
        ) from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChannelError(f"{type(exc).__name__}: {str(reason)[:300]}") from exc


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


class SmsChannel:
    """The HTTP gateway adapter (request format: README, "SMS gateway"). One JSON POST per
    message; the delivery id is the idempotency key, so a gateway can drop a resend."""

    name = "sms"

    def __init__(self, settings):
        self.url = settings.sms_gateway_url
        self.sender = settings.sms_sender
        self.timeout = settings.http_timeout_seconds
        self.headers = {}
        if settings.sms_gateway_user:
            pair = f"{settings.sms_gateway_user}:{settings.sms_gateway_password}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        elif settings.sms_gateway_token:
            self.headers["Authorization"] = f"Bearer {settings.sms_gateway_token}"

    @property
    def configured(self) -> bool:
        return bool(self.url)

    @staticmethod
    def address(recipient) -> str | None:
        return domain.mobile_number(recipient.phone)

    def send(self, delivery, recipient) -> str | None:
        to = domain.mobile_number(recipient.phone)
        if not to:
            raise ChannelError("no mobile number", permanent=True)
        body = json.dumps(
            {
                "from": self.sender,
                "to": to,
                "text": delivery.body_text,
                "encoding": delivery.sms_encoding,
                "segments": delivery.sms_segments,
                "reference": delivery.id,
            },
            ensure_ascii=False,
        ).encode("utf-8")
        _, answer = post_json(self.url, body, {**self.headers, "Idempotency-Key": delivery.id}, self.timeout)
        try:
            parsed = json.loads(answer or b"{}")
        except ValueError:
            return None
        ref = parsed.get("message_id") or parsed.get("id") if isinstance(parsed, dict) else None
        return str(ref)[:200] if ref else None


# ---- webhooks -------------------------------------------------------------------------------------
class WebhookChannel:
    """POSTs within the target policy (webhook_targets: checked again after DNS resolution, the
    connection made to the address checked, no redirects); a failure is kept as our own short
    reason, never the receiver's answer."""

    name = "webhook"

    def __init__(self, settings, clock=time.time, resolve=None, context=None):
        self.timeout = settings.http_timeout_seconds
        self.settings, self.clock = settings, clock
        self.resolve, self.context = resolve, context  # tests: their own resolver, CA
        webhook_targets.policy_for(settings)  # a wrong OCOP_WEBHOOK_* value stops the worker at start

    configured = True

    def send(self, delivery, subscription) -> int:
        body = delivery.payload.encode("utf-8")
        timestamp = int(self.clock())
        headers = {
            "X-OCOP-Event-Type": delivery.event_type,
            "X-OCOP-Event-Id": delivery.event_id,
            "X-OCOP-Delivery": delivery.id,
            "X-OCOP-Timestamp": str(timestamp),
            "X-OCOP-Signature": domain.sign(subscription.secret, timestamp, body),
        }
        try:
            return webhook_targets.post(
                subscription.url,
                body,
                headers,
                self.timeout,
                webhook_targets.policy_for(self.settings),
                resolve=self.resolve or webhook_targets.resolve_host,
                context=self.context,
            )
        except webhook_targets.SendFailed as exc:
            raise ChannelError(
                str(exc), permanent=exc.permanent, retry_after=exc.retry_after, status=exc.status
            ) from None


def producer_channels(settings) -> dict:
    """The adapters of the channels producers are reached on, by name."""
    return {"email": EmailChannel(settings), "sms": SmsChannel(settings)}

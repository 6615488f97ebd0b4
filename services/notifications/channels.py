"""Channel adapters: how a delivery leaves the service. Email over SMTP, SMS through an HTTP
gateway, webhooks to integrating services. Each ``send`` returns the provider's reference (or
None) or raises ChannelError, saying whether a retry can help. Errors never carry an address:
the text is redacted before it is stored or logged."""

from __future__ import annotations

import base64
import json
import smtplib
import time
import urllib.error
import urllib.request
from email.charset import Charset
from email.header import Header
from email.message import EmailMessage
from email.utils import formataddr

from . import domain


class ChannelError(Exception):
    def __init__(self, message: str, permanent: bool = False, retry_after: float | None = None,
                 status: int | None = None):
        super().__init__(domain.redact(message))
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status


# ---- email --------------------------------------------------------------------------------------
def encoded_words(value: str, header: str) -> str:
    """RFC 2047 encoded words (UTF-8, each at most 75 characters, folded), spaces kept inside them.

    Python 3.11's email package folds a long non-ASCII header by putting the space between two
    words outside the encoded words, where decoders must drop it ("Trái cây Đồng" arrives as
    "Trái câyĐồng"); the legacy Header encoder keeps it, and ``set_raw`` stores the result as is."""
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=header).encode(linesep="\r\n")


def display_name_word(name: str, limit: int = 72) -> str:
    """The recipient's name as one encoded word (parsers, Python's among them, insert a space
    between the encoded words of a name); a name too long for one word is shortened with "…"."""
    utf8 = Charset("utf-8")
    if len(word := utf8.header_encode(name)) <= limit:
        return word
    cut = len(name)
    while cut > 1 and len(word := utf8.header_encode(name[:cut].rstrip() + "…")) > limit:
        cut -= 1
    return word


def build_email(delivery, to_name: str, to_addr: str, mail_from: str) -> EmailMessage:
    """multipart/mixed: the text and HTML alternatives, then the attachments (the fair's .ics).
    The subject and the recipient's name travel as RFC 2047 encoded words (UTF-8)."""
    msg = EmailMessage()
    msg.set_raw("Subject", encoded_words(delivery.subject, "Subject"))
    msg["From"] = mail_from
    if to_name and not to_name.isascii():
        msg.set_raw("To", f"{display_name_word(to_name)}\r\n <{to_addr}>")
    else:
        msg["To"] = formataddr((to_name, to_addr))
    # A stable Message-ID: a resend after a crash between SMTP accept and commit is recognisable.
    # (Derived from the delivery id alone: email.utils.make_msgid adds time, pid and a random part.)
    msg["Message-ID"] = f"<{delivery.id}@ocop.local>"
    msg["X-OCOP-Delivery"] = delivery.id
    msg.set_content(delivery.body_text)
    if delivery.body_html:
        msg.add_alternative(delivery.body_html, subtype="html")
    for att in delivery.attachments or []:
        maintype, _, rest = att["content_type"].partition("/")
        subtype, *params = [p.strip() for p in rest.split(";")]
        msg.add_attachment(att["content"], subtype=subtype, filename=att["filename"],
                           params=dict(p.split("=", 1) for p in params if "=" in p))
    msg["Content-Language"] = delivery.language  # after the body: set_content replaces Content-* headers
    return msg


class EmailChannel:
    name = "email"

    def __init__(self, settings):
        self.host, self.port, self.mail_from = settings.smtp_host, settings.smtp_port, settings.mail_from
        self.timeout = settings.http_timeout_seconds

    configured = True

    @staticmethod
    def address(recipient) -> str | None:
        return recipient.email

    def send(self, delivery, recipient) -> str | None:
        msg = build_email(delivery, recipient.name, recipient.email, self.mail_from)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise ChannelError(f"recipient refused ({', '.join(map(str, codes))})",
                               permanent=all(c >= 500 for c in codes)) from exc
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise ChannelError(f"SMTP {exc.smtp_code}: {text[:300]}", permanent=exc.smtp_code >= 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"{type(exc).__name__}: {str(exc)[:300]}") from exc
        return str(msg["Message-ID"])


# ---- HTTP (SMS gateway, webhooks) -----------------------------------------------------------------
def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """POST; returns (status, body) for a 2xx, raises ChannelError otherwise: 4xx other than 408
    and 429 is permanent (the request itself is wrong), anything else can be retried (Retry-After
    honoured)."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": "ocop-notifications/1", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URL
            return response.status, response.read(65536)
    except urllib.error.HTTPError as exc:
        retry_after = _retry_after(exc.headers.get("Retry-After"))
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
        detail = exc.read(300).decode("utf-8", "replace") if exc.fp else ""
        raise ChannelError(f"HTTP {exc.code} {exc.reason}: {detail}".strip(), permanent=permanent,
                           retry_after=retry_after, status=exc.code) from exc
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
        body = json.dumps({"from": self.sender, "to": to, "text": delivery.body_text,
                           "encoding": delivery.sms_encoding, "segments": delivery.sms_segments,
                           "reference": delivery.id}, ensure_ascii=False).encode("utf-8")
        _, answer = post_json(self.url, body, {**self.headers, "Idempotency-Key": delivery.id}, self.timeout)
        try:
            parsed = json.loads(answer or b"{}")
        except ValueError:
            return None
        ref = parsed.get("message_id") or parsed.get("id") if isinstance(parsed, dict) else None
        return str(ref)[:200] if ref else None


# ---- webhooks -------------------------------------------------------------------------------------
class WebhookChannel:
    name = "webhook"

    def __init__(self, settings, clock=time.time):
        self.timeout = settings.http_timeout_seconds
        self.clock = clock

    configured = True

    def send(self, delivery, subscription) -> int:
        body = delivery.payload.encode("utf-8")
        timestamp = int(self.clock())
        headers = {"X-OCOP-Event-Type": delivery.event_type, "X-OCOP-Event-Id": delivery.event_id,
                   "X-OCOP-Delivery": delivery.id, "X-OCOP-Timestamp": str(timestamp),
                   "X-OCOP-Signature": domain.sign(subscription.secret, timestamp, body)}
        status, _ = post_json(subscription.url, body, headers, self.timeout)
        return status


def producer_channels(settings) -> dict:
    """The adapters of the channels producers are reached on, by name."""
    return {"email": EmailChannel(settings), "sms": SmsChannel(settings)}

"""Accounts: the people who sign in to the console, and the checks of a sign-in.

Passwords are hashed with Argon2id (argon2-cffi's ``PasswordHasher``, its RFC 9106 low-memory
profile: 64 MiB, 3 passes), rehashed at sign-in when the parameters change. Lock-out and slow-down:
``MAX_FAILURES`` wrong passwords in a row lock an account for ``LOCK_SECONDS`` (a right password
then is refused too, and resets the count only once the lock has passed); ``MAX_ADDRESS_FAILURES``
failures from one address within ``LOCK_SECONDS`` refuse that address's sign-ins for the rest of
the window, whatever the account. Unknown emails cost the same hash as known ones.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select

from shared import audit

from .models import Account, AuditEntry, SignInFailure

ROLES = ("registry_officer", "trade_officer", "admin")
MAX_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
LOCK_SECONDS = 15 * 60
RESET_SECONDS = 60 * 60
MIN_PASSWORD = 12
MAX_PASSWORD = 256
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,63}$")

hasher = PasswordHasher()  # Argon2id
_DUMMY = hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """Bad account data: ``errors`` is {field: [message]}."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class SignInRefused(Exception):
    kind: str  # "invalid" (email or password), "locked" (the account), "throttled" (the address)
    until: datetime | None = None


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def normal_email(email: str) -> str:
    return (email or "").strip().lower()


def check_password(password: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError({"password": [f"Between {MIN_PASSWORD} and {MAX_PASSWORD} characters."]})


def create(session, *, email: str, name: str, role: str, password: str, scope_id: str = "", scope_name: str = ""):
    """A new account (AccountError on bad data or an email already taken)."""
    errors: dict[str, list[str]] = {}
    email = normal_email(email)
    if not EMAIL.match(email):
        errors["email"] = ["Not an email address."]
    elif session.scalar(select(Account.id).where(Account.email == email)):
        errors["email"] = ["An account with this email exists."]
    if not (name or "").strip() or len(name) > 200:
        errors["name"] = ["Between 1 and 200 characters."]
    if role not in ROLES:
        errors["role"] = [f"One of {', '.join(ROLES)}."]
    try:
        check_password(password)
    except AccountError as exc:
        errors.update(exc.errors)
    if errors:
        raise AccountError(errors)
    account = Account(
        email=email,
        name=name.strip(),
        role=role,
        scope_id=(scope_id or "").strip()[:100],
        scope_name=(scope_name or "").strip()[:200],
        password_hash=hasher.hash(password),
    )
    session.add(account)
    session.flush()
    audit.record(session, AuditEntry, "account.created", account.id, {"email": email, "role": role})
    return account


def as_user(account: Account) -> dict:
    return {
        "id": account.id,
        "name": account.name,
        "email": account.email,
        "role": account.role,
        "scope": account.scope_id,
        "scope_name": account.scope_name,
    }


def _address_throttled(session, address: str, now: datetime) -> datetime | None:
    since = now - timedelta(seconds=LOCK_SECONDS)
    session.execute(delete(SignInFailure).where(SignInFailure.at < since))
    count, first = session.execute(
        select(func.count(), func.min(SignInFailure.at)).where(
            SignInFailure.address == address, SignInFailure.at >= since
        )
    ).one()
    if count >= MAX_ADDRESS_FAILURES:
        return _aware(first) + timedelta(seconds=LOCK_SECONDS)
    return None


def authenticate(session, email: str, password: str, address: str, now: datetime | None = None) -> Account:
    """The account whose email and password these are (SignInRefused otherwise); counts failures."""
    now = now or datetime.now(UTC)
    address = (address or "unknown")[:64]
    throttled = _address_throttled(session, address, now)
    if throttled:
        raise SignInRefused("throttled", throttled)
    account = session.scalar(select(Account).where(Account.email == normal_email(email)))
    if account is not None and _aware(account.locked_until) and _aware(account.locked_until) > now:
        session.add(SignInFailure(address=address, at=now))
        raise SignInRefused("locked", _aware(account.locked_until))
    try:
        hasher.verify(account.password_hash if account else _DUMMY, password or "")
        good = account is not None and not account.disabled
    except (VerificationError, InvalidHashError):
        good = False
    if not good:
        session.add(SignInFailure(address=address, at=now))
        if account is not None:
            account.failed_attempts = (account.failed_attempts or 0) + 1
            if account.failed_attempts >= MAX_FAILURES:
                account.locked_until = now + timedelta(seconds=LOCK_SECONDS)
                account.failed_attempts = 0
                detail = {"address": address}
                audit.record(session, AuditEntry, "account.locked", account.id, detail, who=_self(account))
        raise SignInRefused("invalid")
    if hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hasher.hash(password)
    account.failed_attempts = 0
    account.locked_until = None
    account.last_sign_in_at = now
    audit.record(session, AuditEntry, "account.signed_in", account.id, {"address": address}, who=_self(account))
    return account


def _self(account: Account) -> dict:
    return {"id": account.id, "name": account.name, "role": account.role}


# ---- password reset: a single-use link ----------------------------------------------------------
def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def start_reset(session, email: str, now: datetime | None = None) -> tuple[Account, str] | None:
    """(account, the link's token) for an active account's email, else None; a new link replaces the last."""
    now = now or datetime.now(UTC)
    account = session.scalar(select(Account).where(Account.email == normal_email(email)))
    if account is None or account.disabled:
        return None
    nonce = secrets.token_urlsafe(32)
    account.reset_nonce_hash = _digest(nonce)
    account.reset_expires_at = now + timedelta(seconds=RESET_SECONDS)
    audit.record(session, AuditEntry, "account.reset_requested", account.id, who=_self(account))
    return account, f"{account.id}.{nonce}"


def reset_account(session, token: str, now: datetime | None = None) -> Account | None:
    """The account a reset link's token opens (None: unknown, used or expired)."""
    now = now or datetime.now(UTC)
    account_id, _, nonce = (token or "").partition(".")
    account = session.get(Account, account_id[:36]) if account_id and nonce else None
    if account is None or account.disabled or not account.reset_nonce_hash:
        return None
    if not secrets.compare_digest(account.reset_nonce_hash, _digest(nonce)):
        return None
    if not _aware(account.reset_expires_at) or _aware(account.reset_expires_at) <= now:
        return None
    return account


def finish_reset(session, account: Account, password: str) -> None:
    """Set the new password and spend the link (AccountError for a bad password)."""
    check_password(password)
    account.password_hash = hasher.hash(password)
    account.reset_nonce_hash = None
    account.reset_expires_at = None
    account.failed_attempts = 0
    account.locked_until = None
    audit.record(session, AuditEntry, "account.password_reset", account.id, who=_self(account))

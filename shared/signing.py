"""The token key pair: Ed25519, one issuer (the registry), every service a verifier.

API tokens and console sessions are JWTs signed EdDSA (RFC 8037) with the registry's private key
(``OCOP_TOKEN_PRIVATE_KEY``: a PEM, or the path of a PEM file); every service checks them with the
public key (``OCOP_TOKEN_PUBLIC_KEY``, likewise; derived from the private key where that is set).
Only the registry's settings ever carry the private key (``shared.config.load``), so the events and
notifications services cannot mint a token even if one of them is compromised: see docs/security.md.

The embedded default needs neither variable: it generates a pair once into its data dir
(``token-ed25519.pem``, readable by its owner only, and ``token-ed25519.pub.pem``), like the demo
secret. Outside it, a service without a public key, or a registry without the private key, does
not start (``require_keys``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import config

PRIVATE_VARIABLE = "OCOP_TOKEN_PRIVATE_KEY"
PUBLIC_VARIABLE = "OCOP_TOKEN_PUBLIC_KEY"
DEMO_PRIVATE_FILE = "token-ed25519.pem"
DEMO_PUBLIC_FILE = "token-ed25519.pub.pem"
HOWTO = "python -m services.registry.manage token-keys  (prints a new pair as PEM)"


class MissingKey(RuntimeError):
    """This process has no key for what it was asked to do (sign, or verify)."""


def new_pair() -> tuple[str, str]:
    """A fresh (private PEM, public PEM)."""
    private = Ed25519PrivateKey.generate()
    return _private_pem(private), _public_pem(private.public_key())


def private_key(settings) -> Ed25519PrivateKey:
    """The issuer's key; MissingKey anywhere it is not configured (every service but the registry)."""
    material = settings.token_private_key
    if not material and settings.is_embedded_broker and settings.service == "registry":
        material = str(_demo_pair()[0])
    if not material:
        raise MissingKey(f"this process cannot issue tokens: {PRIVATE_VARIABLE} is not set (only the registry has it)")
    return _load_private(_pem(material))


def public_key(settings) -> Ed25519PublicKey:
    """The key every service verifies tokens and sessions with."""
    if settings.token_public_key:
        return _load_public(_pem(settings.token_public_key))
    if settings.token_private_key:
        return _load_private(_pem(settings.token_private_key)).public_key()
    if settings.is_embedded_broker:
        return _load_public(_pem(str(_demo_pair()[1])))
    raise MissingKey(f"{PUBLIC_VARIABLE} is not set: every service needs the token public key")


def require_keys(settings) -> None:
    """Refuse to start without the keys this service needs (and with keys that do not parse)."""
    try:
        public_key(settings)
        if settings.service == "registry":
            private_key(settings)
    except MissingKey as exc:
        raise config.InsecureSecret(f"{exc}. Make a pair with: {HOWTO}") from exc
    except ValueError as exc:
        raise config.InsecureSecret(f"the token key does not parse as an Ed25519 PEM: {exc}") from exc


def _pem(material: str) -> bytes:
    """A PEM given inline (its text, \\n escapes allowed) or as a file path."""
    text = material.strip()
    if text.startswith("-----BEGIN"):
        return text.replace("\\n", "\n").encode()
    return Path(text).read_bytes()


@lru_cache(maxsize=8)
def _load_private(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


@lru_cache(maxsize=8)
def _load_public(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def _private_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _demo_pair() -> tuple[Path, Path]:
    """The embedded demo's pair: generated once into the data dir (the private file owner-only)."""
    data = config.data_dir()
    private, public = data / DEMO_PRIVATE_FILE, data / DEMO_PUBLIC_FILE
    if not private.exists():
        pem, _ = new_pair()
        tmp = private.with_name(f"{private.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(pem)
        try:
            os.link(tmp, private)  # atomic, and never replaces the one another process made first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    if not public.exists():
        pub_pem = _public_pem(_load_private(private.read_bytes()).public_key())
        tmp = public.with_name(f"{public.name}.{os.getpid()}.tmp")
        tmp.write_text(pub_pem)
        tmp.replace(public)
    return private, public

"""Secrets stored encrypted at rest (Fernet: AES-128-CBC with an HMAC-SHA256), keyed from the settings.

The key is derived (HKDF-SHA256) from ALERTS_ENCRYPTION_KEY when it is set, else from SECRET_KEY. Several keys may
be in force at once so that a key can be rotated: the first encrypts, every one decrypts (ALERTS_ENCRYPTION_KEY
takes a comma-separated list, newest first; SECRET_KEY brings SECRET_KEY_FALLBACKS along).
"""

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

KEY_INFO = b"sentinel secrets at rest v1"


class DecryptionError(Exception):
    """A stored secret none of the keys in force can read (the key changed, or the value was tampered with)."""


def _derive(passphrase: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(passphrase.encode()))


def key_passphrases() -> tuple[str, ...]:
    """The passphrases in force, the one that encrypts first."""
    explicit = [part.strip() for part in settings.ALERTS_ENCRYPTION_KEY.split(",") if part.strip()]
    if explicit:
        return tuple(explicit)
    return (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ()))


@lru_cache(maxsize=8)
def _fernet(passphrases: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_derive(passphrase)) for passphrase in passphrases])


def encrypt(plaintext: str) -> str:
    return _fernet(key_passphrases()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(key_passphrases()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "the stored secret cannot be decrypted with the keys in force (was SECRET_KEY or ALERTS_ENCRYPTION_KEY "
            "changed without keeping the old one?)"
        ) from exc


def mask(secret: str, *, visible: int = 4) -> str:
    """What may be shown back of a secret: its last few characters, and those only when it is long."""
    if len(secret) < 12:
        return "••••••••"
    return "••••••••" + secret[-visible:]

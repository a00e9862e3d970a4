"""Secrets at rest: encrypted with a key derived from the settings, readable under a rotated key, masked when shown."""

import pytest

from core.encryption import DecryptionError, decrypt, encrypt, mask


def test_a_secret_round_trips_and_is_not_stored_in_clear():
    token = encrypt("pd-routing-key-123")

    assert "pd-routing-key" not in token
    assert decrypt(token) == "pd-routing-key-123"


def test_the_key_is_derived_from_secret_key_when_no_encryption_key_is_set(settings):
    settings.ALERTS_ENCRYPTION_KEY = ""
    token = encrypt("value")

    settings.SECRET_KEY = "another secret key " * 4

    with pytest.raises(DecryptionError):
        decrypt(token)


def test_a_secret_key_fallback_still_decrypts_after_secret_key_rotation(settings):
    settings.ALERTS_ENCRYPTION_KEY = ""
    old = settings.SECRET_KEY
    token = encrypt("value")

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a new secret key " * 4, [old]

    assert decrypt(token) == "value"


def test_a_tampered_token_is_refused():
    token = encrypt("value")
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]

    with pytest.raises(DecryptionError):
        decrypt(tampered)


def test_mask_shows_only_the_last_four_characters_of_a_long_secret_and_nothing_of_a_short_one():
    assert mask("abcdefghijklmnop") == "••••••••mnop"
    assert mask("short") == "••••••••"

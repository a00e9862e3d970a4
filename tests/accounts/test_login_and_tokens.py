"""Logging in, and partner tokens: stored hashed, revocable."""

import pytest
from django.urls import reverse

from accounts.models import PartnerToken
from accounts.services import partner_token_authenticate, partner_token_revoke


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Log in" in response.content


@pytest.mark.django_db
def test_partner_token_is_stored_hashed_and_revocable(partner_token):
    token, secret = partner_token
    stored = PartnerToken.objects.get(pk=token.pk)
    assert secret not in (stored.key_hash, stored.key_prefix)
    assert partner_token_authenticate(secret) == stored
    partner_token_revoke(token=stored)
    assert partner_token_authenticate(secret) is None

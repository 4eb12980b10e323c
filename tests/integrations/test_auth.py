"""API token authentication."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.accounts import services as accounts
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_token_authenticates_as_its_user(api):
    user = UserFactory()
    _, key = accounts.api_token_create(user=user, name="ci")
    for scheme in ("Token", "Bearer"):
        response = api.get("/api/me", HTTP_AUTHORIZATION=f"{scheme} {key}")
        assert response.status_code == 200 and response.json()["email"] == user.email


@pytest.mark.parametrize("problem", ["wrong", "expired", "inactive"])
def test_a_bad_token_is_a_401_that_says_nothing_more(api, problem):
    user = UserFactory(is_active=problem != "inactive")
    expires = timezone.now() - timedelta(seconds=1) if problem == "expired" else None
    _, key = accounts.api_token_create(user=user, name="ci", expires_at=expires)
    if problem == "wrong":
        key = key[:-2] + "xx"
    response = api.get("/api/me", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid or expired token."


def test_use_is_noted_without_a_write_per_request(api, django_assert_max_num_queries):
    token, key = accounts.api_token_create(user=UserFactory(), name="ci")
    api.get("/api/me", HTTP_AUTHORIZATION=f"Token {key}")
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    api.get("/api/me", HTTP_AUTHORIZATION=f"Token {key}")
    token.refresh_from_db()
    assert token.last_used_at == first_use

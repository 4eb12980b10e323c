import pytest

from integrations.redaction import REDACTED, redact_data, redact_text


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer abc.DEF-123_xyz",
        "{'Authorization': 'Token hub_abcdef'}",
        '{"access_token": "abcdef", "token_type": "bearer"}',
        "grant_type=refresh_token&refresh_token=abcdef&client_secret=abcdef",
        "password=abcdef",
        "amqp://guest:abcdef@rabbit:5672//",
        "code_verifier=abcdef",
    ],
)
def test_it_removes_the_secret_from_text(text):
    assert "abcdef" not in redact_text(text)
    assert REDACTED in redact_text(text)


def test_it_leaves_ordinary_text_alone():
    text = "Synced 12 rows of sheet 2455059368464260 in 1.2s (token bucket at 80%)"
    assert redact_text(text) == text


def test_it_masks_secret_keys_at_any_depth_and_keeps_shapes():
    data = {
        "name": "Acme",
        "auth": {"refresh_token": "abc", "scopes": ["read", "write"]},
        "attempts": ({"client_secret": "abc"},),
        "Password": "",
    }
    assert redact_data(data) == {
        "name": "Acme",
        "auth": {"refresh_token": REDACTED, "scopes": ["read", "write"]},
        "attempts": ({"client_secret": REDACTED},),
        "Password": "",
    }


@pytest.mark.parametrize(
    "text",
    [
        "GET /x/?access_token=abc123&password=hunter22 HTTP/1.1",
        "callback?code=one-time&state=xyz",
        '{"refresh_token": "r-123", "client_secret": "s-456"}',
        "Authorization: Bearer abc.def",
    ],
)
def test_redacting_twice_changes_nothing_more(text):
    # The log filter redacts a record's arguments and then its formatted message.
    once = redact_text(text)
    assert redact_text(once) == once and "]]" not in once

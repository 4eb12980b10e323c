"""Bad input is the client's mistake, answered with a 4xx in the one error shape (the API) or
a 4xx page, never a 500: oversized and deeply nested bodies, numbers no column holds, long
file names, unknown workspaces and providers in page URLs, duplicates."""

import io
import json

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.exceptions import ParseError

from integrations.accounts import services as accounts
from integrations.parsers import JSONParser
from projects import services as projects
from projects.models import Attachment
from tests.integrations.helpers import connect
from tests.integrations.test_api import assert_error

pytestmark = pytest.mark.django_db

BEYOND_64_BITS = 2**64


@pytest.fixture
def token(client, two_workspaces):
    """Workspace A's admin, by API token (as a program calls), on the plain Django client so
    the bodies are sent as they are."""
    _, key = accounts.api_token_create(user=two_workspaces["a_admin"], name="tests")
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    client.raise_request_exception = False
    return client


def post_json(client, url: str, body: str):
    return client.post(url, body, content_type="application/json")


# Every API operation that takes a body: a body too large or too deep is refused before it.
BODY_ENDPOINTS = [
    "/api/workspaces",
    "/api/memberships",
    "/api/integrations/connections",
    "/api/integrations/mapping-sets/import",
    "/api/integrations/outbound-changes/approve",
    "/api/projects",
    "/api/timetracker/punch-in",
]


@pytest.mark.parametrize("url", BODY_ENDPOINTS)
def test_a_body_over_the_size_limit_is_a_413(token, url):
    body = json.dumps({"name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})
    assert_error(post_json(token, url, body), 413, "too_large")


def test_a_ten_megabyte_body_is_a_413(token):
    body = json.dumps({"name": "x" * 10 * 1024 * 1024})
    assert_error(post_json(token, "/api/workspaces", body), 413, "too_large")


@pytest.mark.parametrize("url", BODY_ENDPOINTS)
def test_json_nested_100_000_deep_is_a_400(token, url):
    assert_error(post_json(token, url, "[" * 100_000 + "]" * 100_000), 400, "parse_error")


@pytest.mark.parametrize(
    "body",
    [
        {"workspace": 1, "data": {"format": "x", "name": "a\u0000b"}},
        {"workspace": 1, "data": {"\u0000": 1}},
        {"workspace": 1, "data": {"name": "\ud800"}},
    ],
)
def test_text_no_database_can_store_is_a_400(token, body):
    # PostgreSQL stores no NUL (text or jsonb) and no lone surrogate: a 500 at the INSERT.
    response = post_json(token, "/api/integrations/mapping-sets/import", json.dumps(body))
    assert_error(response, 400, "parse_error")


@pytest.mark.parametrize(
    "body",
    [
        r'{"name": "\uDBFF"}',  # upper-case hex, as another client's encoder may write it
        r'{"name": "a\uDc00"}',
        r'{"\u0000": 1}',
        r'{"data": [{"name": "\\\u0000"}]}',  # an escaped backslash, then a NUL
    ],
)
def test_text_no_database_can_store_is_refused_however_it_is_escaped(body):
    with pytest.raises(ParseError):
        JSONParser().parse(io.BytesIO(body.encode()), "application/json", {})


def test_escapes_of_storable_text_are_taken():
    # a surrogate pair (an emoji), and a backslash before the text u0000: both storable
    body = r'{"name": "\ud83d\ude00", "path": "C:\\u0000"}'
    data = JSONParser().parse(io.BytesIO(body.encode()), "application/json", {})
    assert data == {"name": "\U0001f600", "path": "C:\\u0000"}


@pytest.mark.parametrize(
    "url",
    [
        f"/api/memberships?workspace={BEYOND_64_BITS}",
        f"/api/audit-events?workspace={BEYOND_64_BITS}",
        f"/api/integrations/connections?workspace={BEYOND_64_BITS}",
        f"/api/integrations/outbound-changes?workspace={BEYOND_64_BITS}",
        f"/api/timetracker/runs?workspace={BEYOND_64_BITS}",
    ],
)
def test_a_workspace_filter_beyond_64_bits_is_a_400(token, url):
    assert_error(token.get(url), 400, "invalid")


@pytest.mark.parametrize(
    "url",
    [
        f"/api/workspaces/{BEYOND_64_BITS}",
        f"/api/projects/{BEYOND_64_BITS}",
        f"/api/timetracker/jobs/{BEYOND_64_BITS}",
        f"/api/integrations/connections/{BEYOND_64_BITS}",
    ],
)
def test_an_id_beyond_64_bits_in_the_path_is_a_404(token, url):
    assert_error(token.get(url), 404, "not_found")


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/projects", {"workspace": BEYOND_64_BITS, "number": "1", "name": "Big"}),
        ("/api/integrations/outbound-changes/approve", {"ids": [BEYOND_64_BITS]}),
        ("/api/timetracker/punch-in", {"job": BEYOND_64_BITS}),
    ],
)
def test_an_id_beyond_64_bits_in_a_body_is_refused(token, url, body):
    response = post_json(token, url, json.dumps(body))
    # SQLite's driver cannot take the number (400); PostgreSQL finds no such row (404).
    assert response.status_code in (400, 404), response.content
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_an_attachment_with_a_250_character_extension_is_a_400(token, two_workspaces, sandbox):
    admin = two_workspaces["a_admin"]
    connect(sandbox, user=admin, workspace=two_workspaces["a"], provider="smartsheet")
    project = projects.project_create(
        workspace=two_workspaces["a"], actor=admin, number="1", name="P"
    )
    upload = SimpleUploadedFile("a." + "x" * 250, b"plan")
    response = token.post(f"/api/projects/{project.pk}/timeline/attachments", {"file": upload})
    assert_error(response, 400, "file_type_not_allowed")
    assert not Attachment.objects.exists()


def test_a_duplicate_project_number_is_a_409(token, two_workspaces):
    body = json.dumps({"workspace": two_workspaces["a"].pk, "number": "1042", "name": "One"})
    assert post_json(token, "/api/projects", body).status_code == 201
    assert_error(post_json(token, "/api/projects", body), 409, "conflict")


def test_a_time_filter_with_an_offset_postgresql_refuses_is_compared_in_utc(token):
    # ISO 8601 allows +21:51; PostgreSQL takes offsets up to ±15:59 (it answered 500 there).
    response = token.get("/api/audit-events", {"created_after": "2026-01-05T09:58:08+21:51"})
    assert response.status_code == 200, response.content


def test_a_page_size_that_is_not_a_positive_number_is_a_400(token):
    for size in ("abc", "0", "-1", "null", str(2**63)):
        assert_error(token.get(f"/api/workspaces?page_size={size}"), 400, "invalid")
    assert token.get("/api/workspaces?page_size=9999").status_code == 200


class TestPages:
    @pytest.mark.parametrize("workspace", ["abc", str(BEYOND_64_BITS), "999999"])
    def test_the_connections_page_for_a_workspace_not_yours_is_a_404(
        self, client, two_workspaces, workspace
    ):
        client.force_login(two_workspaces["a_admin"])
        client.raise_request_exception = False
        response = client.get(f"/integrations/connections/?workspace={workspace}")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/html")

    @pytest.mark.parametrize("step", ["callback", "start", "status", "disconnect"])
    def test_an_unknown_provider_in_the_oauth_urls_is_a_404(self, client, two_workspaces, step):
        client.force_login(two_workspaces["a_admin"])
        client.raise_request_exception = False
        url = f"/integrations/nope/auth/{step}"
        workspace = {"workspace": two_workspaces["a"].pk}
        if step in ("start", "disconnect"):
            response = client.post(url, workspace, content_type="application/json")
        else:
            response = client.get(url, workspace)
        assert response.status_code == 404

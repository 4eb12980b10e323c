"""The HTTP layer against the emulators: buckets, retries, Retry-After, typed errors, counts.
Timing figures are read at the emulator (its call log), not from our own clock."""

import ssl

import certifi
import pytest
import requests
from django.conf import settings as django_settings

from integrations.connections import http
from integrations.connections.providers import smartsheet as smartsheet_provider
from integrations.connections.providers.base import rate_key
from tests.integrations.helpers import connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def connected(sandbox, two_workspaces):
    return connect(
        sandbox,
        user=two_workspaces["a_admin"],
        workspace=two_workspaces["a"],
        provider="smartsheet",
    )


def me(sandbox, token: str, **kwargs) -> requests.Response:
    return http.session("smartsheet", key="test").get(
        f"{sandbox.url('smartsheet')}/2.0/users/me",
        headers={"Authorization": f"Bearer {token}"},
        **kwargs,
    )


def log_of(sandbox, name: str, endpoint: str) -> list[dict]:
    return [call for call in sandbox.calls(name)["log"] if call["endpoint"] == endpoint]


def test_a_429_with_retry_after_2_delays_the_next_call_by_2_seconds_at_the_emulator(
    connected, sandbox
):
    sandbox.clear_calls("smartsheet")
    sandbox.fault("smartsheet", kind="storm", path="/2.0/users/me", count=1, retry_after=2)

    identity = smartsheet_provider.identify(connected.access_token, key="test")  # the SDK path

    assert identity.email == connected.external_email
    first, second = log_of(sandbox, "smartsheet", "GET /2.0/users/me")
    assert (first["status"], second["status"]) == (429, 200)
    assert second["t"] - first["t"] >= 2.0


def test_a_consents_identity_call_counts_against_the_new_connections_budget(
    sandbox, two_workspaces, settings
):
    settings.PROVIDER_RATE_LIMITS = {**settings.PROVIDER_RATE_LIMITS, "smartsheet": (3, 4.0)}
    http.reset_buckets()
    sandbox.set_limit("smartsheet", 3, 4.0)
    connection = connect(  # asks Smartsheet who the token belongs to: one of the three
        sandbox,
        user=two_workspaces["a_admin"],
        workspace=two_workspaces["a"],
        provider="smartsheet",
        full_flow=True,  # the callback's identity call is what this test is about
    )
    sandbox.clear_calls("smartsheet")
    session = http.session("smartsheet", key=rate_key(connection))
    url = f"{sandbox.url('smartsheet')}/2.0/users/me"
    headers = {"Authorization": f"Bearer {connection.access_token}"}
    statuses = [session.get(url, headers=headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert sandbox.calls("smartsheet")["by_status"] == {"200": 3}  # the third waited its turn


def test_calls_at_the_published_rate_over_several_windows_earn_no_429(
    sandbox, two_workspaces, settings
):
    # Same shape as HubSpot's limit (N per window, per account), on a 1 s window so the test
    # takes seconds. Three windows' worth proves the pacing; how close 1,000 calls come to the
    # floor at the real 100 per 10 s is bench/http_pacing.py's question, not the suite's.
    settings.PROVIDER_RATE_LIMITS = {**settings.PROVIDER_RATE_LIMITS, "hubspot": (100, 1.0)}
    http.reset_buckets()
    sandbox.set_limit("hubspot", 100, 1.0)
    connection = connect(
        sandbox, user=two_workspaces["a_admin"], workspace=two_workspaces["a"], provider="hubspot"
    )
    session = http.session("hubspot", key="paced")
    url = f"{sandbox.url('hubspot')}/account-info/v3/details"
    headers = {"Authorization": f"Bearer {connection.access_token}"}
    sandbox.clear_calls("hubspot")

    with http.track() as stats:
        statuses = [session.get(url, headers=headers).status_code for _ in range(300)]

    calls = sandbox.calls("hubspot")
    assert statuses.count(200) == 300
    assert calls["by_status"] == {"200": 300}  # no 429 ever reached us, retried or not
    assert stats.retries == 0
    log = log_of(sandbox, "hubspot", "GET /account-info/v3/details")
    assert log[-1]["t"] - log[0]["t"] >= 1.9  # 300 at 100/s: paced, not a burst


def test_the_same_burst_without_the_bucket_does_earn_429s(sandbox, two_workspaces):
    # 100 per 60 s: the 150 calls cannot outlast the window however loaded the machine is
    # (on a 1 s window, a busy CI machine took longer than 1.5 s for them and earned no 429).
    sandbox.set_limit("hubspot", 100, 60.0)
    connection = connect(
        sandbox, user=two_workspaces["a_admin"], workspace=two_workspaces["a"], provider="hubspot"
    )
    raw = requests.Session()
    raw.trust_env, raw.verify = False, str(django_settings.SANDBOX_CA_BUNDLE)
    statuses = [
        raw.get(
            f"{sandbox.url('hubspot')}/account-info/v3/details",
            headers={"Authorization": f"Bearer {connection.access_token}"},
        ).status_code
        for _ in range(150)
    ]
    assert 429 in statuses
    body = raw.get(
        f"{sandbox.url('hubspot')}/account-info/v3/details",
        headers={"Authorization": f"Bearer {connection.access_token}"},
    )
    assert (
        body.json()["policyName"] == "TEN_SECONDLY_ROLLING"
        and body.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    )


def test_5xx_answers_are_retried_and_counted(connected, sandbox):
    sandbox.fault("smartsheet", kind="error", status=503, path="/2.0/users/me", count=2)
    with http.track() as stats:
        response = me(sandbox, connected.access_token)
    assert response.status_code == 200
    assert (stats.calls, stats.retries) == (3, 2)
    assert stats.by_status == {503: 2, 200: 1}
    assert [(m, p, s) for m, p, s, _ in stats.attempts] == [("GET", "/2.0/users/me", 503)] * 2 + [
        ("GET", "/2.0/users/me", 200)
    ]
    assert all(seconds > 0 for *_, seconds in stats.attempts)


# A refresh as Smartsheet's token call takes it (its required grant_type and client_id): the
# contract checks hold every request the tests send to the emulators.
REFRESH_FORM = {
    "grant_type": "refresh_token",
    "client_id": "hub",
    "refresh_token": "x",
    "hash": "y",
}


def test_a_post_that_may_have_been_processed_is_not_resent(connected, sandbox):
    sandbox.fault("smartsheet", kind="error", status=500, method="POST", path="/2.0/token", count=1)
    sandbox.clear_calls("smartsheet")
    response = http.session("smartsheet").post(
        f"{sandbox.url('smartsheet')}/2.0/token", data=REFRESH_FORM
    )
    assert response.status_code == 500
    assert sandbox.count("smartsheet", "POST /2.0/token") == 1
    with pytest.raises(http.Unavailable):
        http.raise_for_status(response, provider="smartsheet")


def test_a_post_answered_429_or_503_is_resent(connected, sandbox):
    sandbox.fault("smartsheet", kind="error", status=503, method="POST", path="/2.0/token", count=1)
    sandbox.clear_calls("smartsheet")
    http.session("smartsheet").post(f"{sandbox.url('smartsheet')}/2.0/token", data=REFRESH_FORM)
    assert sandbox.count("smartsheet", "POST /2.0/token") == 2


def test_a_dropped_connection_is_retried_for_a_get(connected, sandbox):
    sandbox.fault("smartsheet", kind="drop", path="/2.0/users/me", count=1)
    with http.track() as stats:
        assert me(sandbox, connected.access_token).status_code == 200
    assert stats.retries == 1


def test_a_dropped_post_is_not_resent_and_is_a_typed_error(connected, sandbox):
    sandbox.fault("smartsheet", kind="drop", method="POST", path="/2.0/token")
    sandbox.clear_calls("smartsheet")
    with pytest.raises(http.Unavailable) as raised:
        http.session("smartsheet").post(
            f"{sandbox.url('smartsheet')}/2.0/token", data={"grant_type": "x"}
        )
    assert isinstance(raised.value, requests.exceptions.ConnectionError)  # SDKs still recognise it
    assert sandbox.count("smartsheet", "POST /2.0/token") == 1


def test_no_answer_in_time_is_a_timeout_after_the_retries(connected, sandbox, settings):
    settings.HTTP_READ_TIMEOUT = 1
    settings.HTTP_MAX_ATTEMPTS = 2
    sandbox.fault("smartsheet", kind="timeout", seconds=3, path="/2.0/users/me")
    sandbox.clear_calls("smartsheet")
    with pytest.raises(http.Timeout) as raised:
        me(sandbox, connected.access_token)
    assert isinstance(raised.value, requests.exceptions.Timeout)
    assert sandbox.count("smartsheet", "GET /2.0/users/me") == 2


def test_a_long_retry_after_is_handed_back_not_slept(connected, sandbox, settings):
    settings.HTTP_MAX_RETRY_WAIT = 5
    sandbox.fault("smartsheet", kind="storm", path="/2.0/users/me", count=1, retry_after=600)
    response = me(sandbox, connected.access_token)
    assert response.status_code == 429
    with pytest.raises(http.RateLimited) as raised:
        http.raise_for_status(response, provider="smartsheet")
    assert raised.value.retry_after == 600


def test_backoff_is_full_jitter_and_capped():
    adapter = http.HubAdapter(
        provider="x", key="k", attempts=8, max_retry_wait=10, backoff_base=1.0, timeout=(1, 1)
    )

    class State:
        outcome = None

        def __init__(self, attempt):
            self.attempt_number = attempt

    for attempt, ceiling in [(1, 1), (3, 4), (7, 60), (12, 60)]:
        waits = [adapter._wait(State(attempt)) for _ in range(300)]
        assert 0 <= min(waits) < ceiling * 0.2 and ceiling * 0.8 < max(waits) <= ceiling


def test_sandbox_sessions_verify_with_the_sandbox_ca_whatever_the_environment_says(
    connected, sandbox, monkeypatch
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # would win over verify= otherwise
    assert me(sandbox, connected.access_token).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{sandbox.url('smartsheet')}/2.0/users/me", timeout=5)  # verification is on


def test_the_bucket_budget_running_out_is_rate_limited(settings):
    settings.PROVIDER_RATE_LIMITS = {**settings.PROVIDER_RATE_LIMITS, "salesforce": (2, 3600.0)}
    http.reset_buckets()
    http.acquire("salesforce", "org", max_wait=0.1)
    http.acquire("salesforce", "org", max_wait=0.1)
    with pytest.raises(http.RateLimited):
        http.acquire("salesforce", "org", max_wait=0.2)
    http.acquire("salesforce", "another-org", max_wait=0.1)  # buckets are per key
    http.reset_buckets()


@pytest.mark.parametrize("store", ["memory://", "redis://127.0.0.1:6379/15"])
def test_buckets_pace_in_memory_and_in_redis(settings, store):
    # Redis is how several worker processes share one connection's budget.
    import redis as redis_client

    if store.startswith("redis"):
        redis_client.Redis.from_url(store).flushdb()
    settings.RATE_LIMIT_URL = store
    settings.PROVIDER_RATE_LIMITS = {**settings.PROVIDER_RATE_LIMITS, "hubspot": (5, 1.0)}
    http.reset_buckets()
    import time

    started = time.monotonic()
    for _ in range(10):
        http.acquire("hubspot", "connection-1", max_wait=5)
    assert time.monotonic() - started >= 1.0  # the sixth had to wait for the window
    http.reset_buckets()


def test_sandbox_sessions_share_one_tls_context_and_verify_with_it(connected, sandbox):
    # The bundle is parsed once per process, not once per connection; verification stays on.
    first, second = http.session("smartsheet"), http.session("hubspot")
    contexts = {id(s.get_adapter("https://x").ssl_context) for s in (first, second)}
    assert len(contexts) == 1
    context = first.get_adapter("https://x").ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert me(sandbox, connected.access_token).status_code == 200


def test_a_smartsheet_client_is_built_on_the_hubs_session_and_builds_none_of_its_own(
    monkeypatch,
):
    import smartsheet.session

    built = []
    monkeypatch.setattr(smartsheet.session._SSLAdapter, "__init__", lambda *a, **k: built.append(a))
    sdk = smartsheet_provider.client("token", key="k")
    assert isinstance(sdk._session.get_adapter("https://x"), http.HubAdapter)
    assert built == []  # the SDK's own adapter (and its CA store) was never made

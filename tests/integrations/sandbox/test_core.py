"""The emulator framework's clock: moved through the control plane, read by every timestamp
and expiry an emulator hands out, and not by its rate-limit windows."""

from datetime import UTC, datetime

import pytest

from integrations.connections import http

pytestmark = pytest.mark.django_db


def session():
    return http.session("tests")  # not a limited provider name: no bucket in the way


def clock(sandbox, name: str, body: dict | None = None):
    url = f"{sandbox.url(name)}/_sandbox/clock"
    return session().post(url, json=body) if body is not None else session().get(url)


def epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_the_clock_is_set_advanced_and_put_back_to_real_time(sandbox):
    real = clock(sandbox, "hubspot").json()
    assert real["offset"] == 0
    moved = clock(sandbox, "hubspot", {"set": "2031-05-06T07:08:09Z"}).json()
    target = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC).timestamp()
    assert abs(epoch(moved["now"]) - target) <= 1 and abs(moved["epoch"] - target) < 1
    later = clock(sandbox, "hubspot", {"advance": 3600}).json()
    assert 3599 <= later["epoch"] - moved["epoch"] <= 3601
    assert clock(sandbox, "smartsheet").json()["offset"] == 0  # one clock per emulator
    back = clock(sandbox, "hubspot", {"real": True}).json()
    assert back["offset"] == 0 and abs(back["epoch"] - real["epoch"]) < 60


@pytest.mark.parametrize(
    "body",
    [{}, {"advance": "soon"}, {"set": "yesterday"}, {"set": "2031-05-06T07:08:09"}],
)
def test_the_clock_refuses_what_it_cannot_read(sandbox, body):
    answer = clock(sandbox, "smartsheet", body)
    assert answer.status_code == 400 and answer.json()["error"]
    assert clock(sandbox, "smartsheet").json()["offset"] == 0


def test_a_reset_puts_the_clock_back_to_real_time(sandbox):
    sandbox.advance_clock(None, 86_400)
    assert all(clock(sandbox, name).json()["offset"] == 86_400 for name in ("azure", "hubspot"))
    sandbox.reset()
    assert clock(sandbox, "hubspot").json()["offset"] == 0


def test_smartsheet_stamps_its_changes_with_its_clock(sandbox):
    # The clock first: a token issued today would have expired by 2031.
    clock(sandbox, "smartsheet", {"set": "2031-05-06T07:08:09+00:00"})
    granted = sandbox.grant(
        "smartsheet", client_id="hub-smartsheet-sandbox", scope="ADMIN_WORKSPACES CREATE_SHEETS"
    )
    api, headers = sandbox.url("smartsheet"), {"Authorization": f"Bearer {granted['access_token']}"}
    workspace = session().post(f"{api}/2.0/workspaces", headers=headers, json={"name": "W"})
    columns = [{"title": "Name", "type": "TEXT_NUMBER", "primary": True}]
    made = session().post(
        f"{api}/2.0/workspaces/{workspace.json()['result']['id']}/sheets",
        headers=headers,
        json={"name": "Clocked", "columns": columns},
    )
    sheet = session().get(f"{api}/2.0/sheets/{made.json()['result']['id']}", headers=headers)
    assert sheet.json()["createdAt"].startswith("2031-05-06T07:08")
    assert sheet.json()["modifiedAt"].startswith("2031-05-06T07:08")
    me = session().get(f"{api}/2.0/users/me", headers=headers).json()
    assert me["lastLogin"].startswith("2031-05-06T07:08")


def test_rate_limit_windows_stay_on_real_time(sandbox):
    token = sandbox.grant("smartsheet", client_id="hub-smartsheet-sandbox", scope="READ_SHEETS")[
        "access_token"
    ]
    sandbox.set_limit("smartsheet", 1, 60)
    me = f"{sandbox.url('smartsheet')}/2.0/users/me"
    assert session().get(me, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # The hub waits out a limit in real seconds (Retry-After, its own buckets): moving the
    # emulator's clock does not open the window early.
    sandbox.advance_clock("smartsheet", 3600)
    assert session().get(me, headers={"Authorization": f"Bearer {token}"}).status_code == 429


def test_the_emulators_event_loop_keeps_real_time_while_a_test_freezes_time(_sandbox_server):
    """The emulators serve from an event loop in a thread of the test process; freezegun fakes
    time.monotonic for every thread. A timer the loop set under a frozen clock fell due at the
    frozen epoch seconds and never fired on the real one: uvicorn's tick stopped, and the
    session's end waited out its 10 s join for servers that never saw their stop."""
    import asyncio

    from freezegun import freeze_time

    with freeze_time("2026-03-01 12:00:00"):
        slept = asyncio.run_coroutine_threadsafe(asyncio.sleep(0.01), _sandbox_server._loop)
        done_while_frozen = slept.result(timeout=2)  # raises TimeoutError on the frozen clock
    assert done_while_frozen is None
    after = asyncio.run_coroutine_threadsafe(asyncio.sleep(0.01), _sandbox_server._loop)
    assert after.result(timeout=2) is None

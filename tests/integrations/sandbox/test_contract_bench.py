"""bench/contracts.py: its driver table covers every route the emulators serve (a new route
without a driver is reported, never skipped), and its drive, against the test sandbox, reaches
every route with a normal and an error case and no SDK call misbehaving."""

import importlib.util
import sys

import pytest
from starlette.responses import JSONResponse
from starlette.routing import Route

from integrations.sandbox import runner
from integrations.sandbox.hubspot import HubSpotEmulator
from tests.environment import BASE_DIR


@pytest.fixture(scope="module")
def bench():
    folder = str(BASE_DIR / "bench")
    sys.path.insert(0, folder)  # the bench imports its sibling _setup, as when it is run
    try:
        spec = importlib.util.spec_from_file_location("contracts_bench", f"{folder}/contracts.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    return module


def test_the_driver_table_covers_every_route_of_every_emulator(bench):
    emulators = runner.build()
    assert bench.not_driven(emulators) == []
    # ... and drives no route that is gone (a stale entry would hide a renamed route).
    served = bench.routes(emulators)
    stale = {
        f"{name} {endpoint}"
        for name, drivers in bench.DRIVERS.items()
        for endpoint in drivers
        if endpoint not in served[name]
    }
    assert stale == set()


def test_a_route_added_without_a_driver_is_reported(bench, monkeypatch):
    served = HubSpotEmulator.api_routes

    async def contacts(request):
        return JSONResponse({"results": []})

    monkeypatch.setattr(
        HubSpotEmulator,
        "api_routes",
        lambda self: [*served(self), Route("/crm/v3/objects/contacts", contacts)],
    )
    assert bench.not_driven(runner.build(["hubspot"])) == ["hubspot GET /crm/v3/objects/contacts"]


def test_an_sdk_call_that_is_not_refused_as_expected_is_a_failure(bench):
    from smartsheet.exceptions import ApiError

    class Result:
        status_code, code = 404, 1006

    class Error:
        result = Result()

    def not_found():
        raise ApiError(Error(), "Not Found")

    ledger = bench.Ledger()
    ledger.sdk("refused as expected", not_found, refused=404)
    ledger.sdk("refused as expected, by its code", not_found, refused=1006)
    assert (ledger.sdk_calls, ledger.sdk_failures) == (2, [])
    ledger.sdk("refused with another status", not_found, refused=400)
    ledger.sdk("refused where success was expected", not_found)
    ledger.sdk("succeeded where a refusal was expected", lambda: "ok", refused=404)
    assert [failure.split(":")[0] for failure in ledger.sdk_failures] == [
        "refused with another status",
        "refused where success was expected",
        "succeeded where a refusal was expected",
    ]


class Counted:
    """A sandbox whose emulators count exchanges, their contract checks off."""

    def calls(self, name):
        return {"total": {"smartsheet": 5, "hubspot": 2}[name]}

    def contract(self, name):
        return {
            "checking": False,
            "exchanges": 0,
            "validated": 0,
            "unpublished": 0,
            "violation_count": 0,
            "violations": [],
        }


class Checked(Counted):
    """A sandbox whose emulators check the contracts."""

    def contract(self, name):
        violation = {
            "provider": name,
            "operation": "get-sheet",
            "direction": "response",
            "field": "columns[0].index",
            "value": -1,
            "message": "-1 is less than the minimum of 0",
        }
        # HubSpot found three, of which its log kept one (violation_count counts all).
        return {
            "checking": True,
            "exchanges": 4,
            "validated": 3,
            "unpublished": 1,
            "violation_count": 3 if name == "hubspot" else 0,
            "violations": [violation] if name == "hubspot" else [],
        }


def test_the_figures_are_the_contract_checks_or_without_them_the_call_counts(bench):
    names = ["smartsheet", "hubspot"]
    assert bench.contract_figures(Counted(), names) == (False, 7, 0, 0, [])
    checked, exchanges, validated, count, violations = bench.contract_figures(Checked(), names)
    assert checked
    assert (exchanges, validated, count) == (8, 6, 3)
    assert [v["provider"] for v in violations] == ["hubspot"]


def test_the_drive_reaches_every_route_and_every_call_behaves(bench, sandbox):
    report = bench.drive(sandbox)
    assert report.missing == []
    assert report.ledger.sdk_failures == []
    assert report.ledger.http_failures == []
    assert report.exchanges >= report.ledger.sdk_calls > 100
    # The test sandbox checks contracts: the figures are the checks' own, nothing broken.
    assert report.checks and report.validated and report.violation_count == 0
    # Each route answered a normal case and an error case, bar two by design: a consent's
    # decision always redirects (a denial too), and Dataverse's catch-all serves only what
    # does not exist.
    answered = [
        (name, endpoint, {status < 400 for status in counts})
        for name, endpoints in report.statuses.items()
        for endpoint, counts in endpoints.items()
    ]
    assert {(name, endpoint) for name, endpoint, kinds in answered if True not in kinds} == {
        ("dataverse", "GET /api/data/v9.2/{segments:path}")
    }
    consents = {"smartsheet": "/b/authorize", "hubspot": "/oauth/authorize"}
    assert {(name, endpoint) for name, endpoint, kinds in answered if False not in kinds} == {
        (name, f"POST {consents.get(name, '/services/oauth2/authorize')}")
        for name in ("smartsheet", "salesforce", "salesforce-test", "hubspot")
    }
    # The rate limits the 429 cases cut are back as they were.
    assert sandbox.control("smartsheet", "GET", "rate-limit") == {"limit": 300, "window": 60}

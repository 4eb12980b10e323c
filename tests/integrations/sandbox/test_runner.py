"""The sandbox server's control plane of every emulator at once (runner.py): the suite resets
the emulators before each test and reads their contract findings after it, in one call each
instead of one per emulator."""

import pytest

from integrations.connections import http


def test_one_reset_call_reseeds_only_the_emulators_reached_since_the_last(sandbox):
    # Something reached Smartsheet (its own control plane counts: it may change its state).
    sandbox.fault("smartsheet", kind="error", status=503, path="/2.0/users/me", count=1)
    bodies = {name: {"seed": 0, "unless_untouched": True} for name in sandbox.server.emulators}
    first = sandbox.control_all("POST", "reset", {"emulators": bodies})
    assert set(first) == set(sandbox.server.emulators)
    assert first["smartsheet"]["reset"] is True
    # The same reset again: nothing reached any emulator since.
    again = sandbox.control_all("POST", "reset", {"emulators": bodies})
    assert all(
        answer == {"reset": False, "seed": 0, "untouched": True} for answer in again.values()
    )
    # And what the reset put back holds: the fault is gone.
    assert sandbox.control("smartsheet", "GET", "faults") == {"faults": []}


def test_a_reset_of_an_emulator_the_server_does_not_run_is_a_404(sandbox):
    answer = http.session("tests").post(
        f"http://{sandbox.server.host}:{sandbox.server.ports['browser']}/_sandbox/reset",
        json={"emulators": {"nowhere": {"seed": 0}}},
    )
    assert answer.status_code == 404 and "nowhere" in answer.json()["error"]


@pytest.mark.contract(requests=False, reason="the test sends a request no spec has, on purpose")
def test_one_contract_call_answers_every_emulators_findings_by_name(sandbox):
    before = sandbox.contracts()
    assert set(before) == set(sandbox.server.emulators)
    assert all(report["violation_count"] == 0 for report in before.values())
    http.session("tests").get(f"{sandbox.url('smartsheet')}/2.0/no-such-thing")
    after = sandbox.contracts()
    assert after["smartsheet"]["violations"] == sandbox.contract("smartsheet")["violations"]
    assert after["smartsheet"]["violation_count"] >= 1
    assert all(after[name]["violation_count"] == 0 for name in after if name != "smartsheet")

"""The Salesforce emulator's control plane for tests and benches: every row of an object as
stored, many rows edited in one call as another user (all or nothing), and its stamps never
going back in time."""

import time

import pytest
import requests
from django.conf import settings
from simple_salesforce import Salesforce

from integrations.sandbox.soql import parse_instant, sf_stamp


@pytest.fixture
def sf(sandbox) -> tuple[Salesforce, str]:
    granted = sandbox.grant(
        "salesforce", client_id=settings.SALESFORCE_CLIENT_ID, scope="api refresh_token"
    )
    session = requests.Session()
    session.trust_env = False
    session.verify = str(settings.SANDBOX_CA_BUNDLE)
    client = Salesforce(
        instance_url=granted["instance_url"], session_id=granted["access_token"], session=session
    )
    return client, granted["user_id"]


def rows(sandbox, sobject: str) -> dict[str, dict]:
    return {
        r["Id"]: r
        for r in sandbox.control("salesforce", "GET", f"records?sobject={sobject}")["records"]
    }


def test_every_row_of_an_object_as_stored_the_recycle_bin_too(sandbox, sf):
    client, _ = sf
    listed = client.query_all("SELECT Id, Name FROM Account")["records"]
    gone = listed[0]["Id"]
    sandbox.salesforce_delete(gone)
    stored = rows(sandbox, "Account")
    assert set(stored) == {r["Id"] for r in listed}
    assert stored[gone]["IsDeleted"] and not stored[listed[1]["Id"]]["IsDeleted"]
    assert {r["Name"] for r in stored.values()} == {r["Name"] for r in listed}
    with pytest.raises(requests.HTTPError):
        sandbox.control("salesforce", "GET", "records?sobject=Opportunity")


def test_many_rows_are_edited_in_one_call_as_another_user(sandbox, sf):
    client, hub_user = sf
    before = client.query("SELECT Id, Title, LastModifiedDate FROM Contact ORDER BY Id LIMIT 3")
    ids = [r["Id"] for r in before["records"]]
    sandbox.advance_clock("salesforce", 60)
    answer = sandbox.control(
        "salesforce",
        "PATCH",
        "records",
        {"records": [{"Id": i, "Title": f"Edited {n}"} for n, i in enumerate(ids)]},
    )
    assert answer == {"updated": sorted(ids)}
    after = client.query(
        f"SELECT Id, Title, Name, LastModifiedById, LastModifiedDate, SystemModstamp FROM Contact "
        f"WHERE Id IN ('{ids[0]}', '{ids[1]}', '{ids[2]}') ORDER BY Id"
    )["records"]
    assert [r["Title"] for r in after] == ["Edited 0", "Edited 1", "Edited 2"]
    for old, new in zip(before["records"], after, strict=True):
        assert new["LastModifiedById"] != hub_user  # another user's edit, as a person makes it
        assert new["LastModifiedDate"] == new["SystemModstamp"] > old["LastModifiedDate"]
    # The query sees it as changed since then, as an incremental read would.
    since = time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(parse_instant(before["records"][0]["LastModifiedDate"]))
    )
    newer = client.query_all(f"SELECT Id FROM Contact WHERE SystemModstamp > {since}")["records"]
    assert set(ids) <= {r["Id"] for r in newer}


def test_a_bulk_edit_with_one_bad_row_changes_nothing(sandbox, sf):
    client, _ = sf
    contacts = client.query("SELECT Id, Email, Title FROM Contact ORDER BY Id LIMIT 2")["records"]
    stored = rows(sandbox, "Contact")
    bad_rows = [
        [{"Id": contacts[0]["Id"], "Title": "Kept?"}, {"Id": contacts[1]["Id"], "Email": "no-at"}],
        [{"Id": contacts[0]["Id"], "Title": "Kept?"}, {"Id": "003000000000000AAA"}],
        [{"Id": contacts[0]["Id"], "Title": "Kept?"}, {"Id": contacts[1]["Id"], "Nope__c": 1}],
    ]
    for records in bad_rows:
        with pytest.raises(requests.HTTPError) as refused:
            sandbox.control("salesforce", "PATCH", "records", {"records": records})
        assert refused.value.response.status_code == 400
    assert rows(sandbox, "Contact") == stored  # not even the first, valid row


def test_a_stamp_never_reads_earlier_than_the_moment_before_it():
    # 1,700,000,000 s is 2023-11-14T22:13:20Z; 0.9996 s later rounds to the next second.
    assert sf_stamp(1_700_000_000.9996) == "2023-11-14T22:13:21.000+0000"
    assert sf_stamp(1_700_000_000.9994) == "2023-11-14T22:13:20.999+0000"
    moments = [1_700_000_000 + n / 10_000 for n in range(9_990, 10_010)]
    stamps = [sf_stamp(m) for m in moments]
    assert stamps == sorted(stamps)

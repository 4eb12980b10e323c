"""The SOQL subset of the Salesforce emulator: parsing, its errors, and what each operator
selects (the emulator's query tests drive it end to end through simple-salesforce)."""

import pytest

from integrations.sandbox import soql
from integrations.sandbox.salesforce_data import FIELDS
from integrations.sandbox.soql import SoqlError, parse_instant, sf_stamp

NOW = parse_instant("2026-03-10T15:30:00Z")
SCHEMA = {name: FIELDS[name] for name in ("Account", "Contact")}


def row(**fields) -> dict:
    return {name: None for name in FIELDS["Contact"]} | {"IsDeleted": False} | fields


ROWS = [
    row(Id="a", LastName="Smith", FirstName="Ann", Email="ann@x.com",
        CreatedDate=sf_stamp(NOW - 3600)),  # today
    row(Id="b", LastName="smithers", FirstName=None, Email="b@y.org",
        CreatedDate=sf_stamp(NOW - 86_400)),  # yesterday
    row(Id="c", LastName="Jones", FirstName="Cy", Email=None,
        CreatedDate=sf_stamp(NOW - 10 * 86_400)),
]  # fmt: skip


def select(where_and_rest: str) -> list[str]:
    query = soql.parse(f"SELECT Id FROM Contact {where_and_rest}", SCHEMA, NOW)
    chosen = [r for r in ROWS if soql.matches(query.where, r)]
    chosen = soql.ordered(chosen, query.order)[query.offset :]
    return [r["Id"] for r in chosen[: query.limit]]


@pytest.mark.parametrize(
    ("clause", "ids"),
    [
        ("WHERE LastName = 'SMITH'", ["a"]),  # text compares case-insensitively
        ("WHERE LastName LIKE 'smith%'", ["a", "b"]),
        ("WHERE LastName LIKE 'Sm_th'", ["a"]),
        ("WHERE LastName IN ('Jones', 'smith')", ["a", "c"]),
        ("WHERE LastName NOT IN ('Jones')", ["a", "b"]),
        ("WHERE FirstName = null", ["b"]),
        ("WHERE FirstName != null AND Email != null", ["a"]),
        ("WHERE Email LIKE '%.org' OR (FirstName = 'Cy' AND (NOT LastName = 'Smith'))", ["b", "c"]),
        ("WHERE NOT LastName LIKE 'smith%'", ["c"]),
        ("WHERE LastName = 'Jones' OR LastName = 'Smith' OR Email = null", ["a", "c"]),
        ("WHERE CreatedDate = TODAY", ["a"]),
        ("WHERE CreatedDate = YESTERDAY", ["b"]),
        ("WHERE CreatedDate < YESTERDAY", ["c"]),
        ("WHERE CreatedDate = LAST_N_DAYS:2", ["a", "b"]),
        ("WHERE CreatedDate > 2026-03-09T15:30:00Z", ["a"]),
        ("WHERE CreatedDate >= 2026-03-09T15:30:00.000+0000", ["a", "b"]),
        ("WHERE CreatedDate < 2026-03-09T16:30:01+01:00", ["b", "c"]),
        ("ORDER BY FirstName", ["b", "a", "c"]),  # ASC: nulls first
        ("ORDER BY FirstName DESC", ["c", "a", "b"]),  # DESC: nulls last
        ("ORDER BY FirstName ASC NULLS LAST LIMIT 2", ["a", "c"]),
        ("ORDER BY LastName LIMIT 2 OFFSET 1", ["a", "b"]),
    ],
)
def test_each_operator_selects_what_soql_selects(clause, ids):
    assert select(clause) == ids


def test_select_list_and_count_are_canonical():
    query = soql.parse("select id, lastname from CONTACT", SCHEMA, NOW)
    assert (query.sobject, query.fields, query.count) == ("Contact", ["Id", "LastName"], False)
    assert soql.parse("SELECT COUNT() FROM Account", SCHEMA, NOW).count


@pytest.mark.parametrize(
    ("text", "code", "says"),
    [
        ("SELECT Nope FROM Contact", "INVALID_FIELD", "No such column 'Nope' on entity 'Contact'"),
        ("SELECT Id FROM Widget", "INVALID_TYPE", "sObject type 'Widget' is not supported"),
        ("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY", "unexpected token: <EOF>"),
        ("SELECT Id Contact", "MALFORMED_QUERY", "unexpected token: 'Contact'"),
        ("SELECT Id FROM Contact LIMIT x", "MALFORMED_QUERY", "unexpected token: 'x'"),
        (
            "SELECT Id FROM Contact WHERE LastName = 'a' AND Email = null OR Title = 'b'",
            "MALFORMED_QUERY",
            "unexpected token: 'OR'",
        ),
        (
            "SELECT Id FROM Contact WHERE LastName = 'a' AND NOT Title = 'b'",
            "MALFORMED_QUERY",
            "unexpected token: 'NOT'",
        ),
        ("SELECT Id FROM Contact WHERE CreatedDate > '2026-01-01'", "INVALID_FIELD", "quotes"),
    ],
)
def test_refused_queries_carry_the_apis_error_code(text, code, says):
    with pytest.raises(SoqlError) as refused:
        soql.parse(text, SCHEMA, NOW)
    assert refused.value.code == code
    assert says in refused.value.message
    assert "ERROR at Row:1:Column:" in refused.value.message


def test_stamps_are_salesforces_fixed_width_utc_format():
    assert (
        sf_stamp(parse_instant("2026-03-10T15:30:00.250+02:00")) == "2026-03-10T13:30:00.250+0000"
    )
    assert parse_instant("2026-03-10T13:30:00.250+0000") == parse_instant("2026-03-10T13:30:00.25Z")

"""The Dataverse emulator's `imi_jobs` entity set answers as the Web API does
(../shared/providers/dataverse.md): pages and their paging cookie, the OData subset with SQL
Server's null rules, formatted values on request, Dataverse's error bodies, the service
protection answer, and the control plane that loads jobs. Everything goes over TLS with an
application user's token from the Azure emulator, as the real client does."""

import re
import uuid
import xml.etree.ElementTree as ElementTree
from urllib.parse import unquote

import pytest
import requests
from django.conf import settings

from integrations import sandbox as sandbox_module

APPROVED, NEEDED = 826130004, 826130000
FORMATTED = "OData.Community.Display.V1.FormattedValue"
ANNOTATIONS = f'odata.include-annotations="{FORMATTED}"'
APPROVED_ACTIVE = "imi_submittalstatus eq 826130004 and statecode eq 0"


@pytest.fixture
def web(sandbox):
    """A session carrying a Dataverse token of the hub's application user."""
    http = requests.Session()
    http.trust_env = False
    http.verify = str(settings.SANDBOX_CA_BUNDLE)
    answer = http.post(
        f"{sandbox.url('azure')}/{sandbox_module.DATAVERSE_TENANT_ID}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox_module.DATAVERSE_CLIENT_ID,
            "client_secret": sandbox_module.DATAVERSE_CLIENT_SECRET,
            "scope": f"{sandbox.url('dataverse')}/.default",
        },
        timeout=10,
    )
    answer.raise_for_status()
    http.headers.update(
        {
            "Authorization": f"Bearer {answer.json()['access_token']}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        }
    )
    return http


def jobs_url(sandbox, rest: str = "") -> str:
    return f"{sandbox.url('dataverse')}/api/data/v9.2/imi_jobs{rest}"


def load(sandbox, **body) -> dict:
    return sandbox.control("dataverse", "POST", "dataverse/jobs", body)


def every_row(web, url: str, page_size: int = 5000) -> list[dict]:
    rows = []
    while url:
        page = web.get(url, headers={"Prefer": f"odata.maxpagesize={page_size}"}, timeout=30)
        assert page.status_code == 200, page.text
        rows += page.json()["value"]
        url = page.json().get("@odata.nextLink")
    return rows


def ids(rows: list[dict]) -> list[str]:
    return [row["imi_jobid"] for row in rows]


def error_of(response) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


def job(**columns) -> dict:
    return {"imi_jobid": str(uuid.uuid4()), "imi_jobnameaddress": "Test job - 1 Main St", **columns}


class TestPaging:
    def test_pages_of_5000_follow_the_next_link_unchanged_and_top_yields(self, sandbox, web):
        assert load(sandbox, count=12_000, seed=7)["jobs"] == 12_000
        url = jobs_url(sandbox, "?$select=imi_imnumber&$top=10")
        sizes, seen, links = [], [], []
        while url:
            page = web.get(url, headers={"Prefer": "odata.maxpagesize=5000"}, timeout=30)
            assert page.status_code == 200
            assert page.headers["Preference-Applied"] == "odata.maxpagesize=5000"
            body = page.json()
            assert body["@odata.context"].endswith(
                "/api/data/v9.2/$metadata#imi_jobs(imi_imnumber)"
            )
            sizes.append(len(body["value"]))
            seen += ids(body["value"])
            url = body.get("@odata.nextLink")
            links.append(url)
        assert sizes == [5000, 5000, 2000]  # $top=10 gave way to the page size
        assert len(seen) == len(set(seen)) == 12_000
        assert seen == sorted(seen)  # no $orderby: the primary key's order
        first_page = seen[:5000]
        assert links[0] == jobs_url(
            sandbox,
            "?$select=imi_imnumber&$top=10&$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22"
            "%253ccookie%2520page%253d%25221%2522%253e%253cimi_jobid%2520last%253d%2522%257b"
            f"{first_page[-1].upper()}%257d%2522%2520first%253d%2522%257b{first_page[0].upper()}"
            "%257d%2522%2520%252f%253e%253c%252fcookie%253e%22%20istracking=%22False%22%20/%3E",
        )
        assert unquote(links[1]).startswith(
            jobs_url(sandbox, '?$select=imi_imnumber&$top=10&$skiptoken=<cookie pagenumber="3" ')
        )
        assert links[2] is None

    def test_without_a_page_size_top_limits_and_past_5000_the_default_holds(self, sandbox, web):
        load(sandbox, count=6_000, seed=1)
        top = web.get(jobs_url(sandbox, "?$top=3"), timeout=30)
        assert len(top.json()["value"]) == 3 and "@odata.nextLink" not in top.json()
        assert "Preference-Applied" not in top.headers
        large = web.get(
            jobs_url(sandbox), headers={"Prefer": "odata.maxpagesize=10000"}, timeout=30
        )
        assert len(large.json()["value"]) == 5000 and "@odata.nextLink" in large.json()
        assert "Preference-Applied" not in large.headers  # the service ignores it past 5000
        plain = web.get(jobs_url(sandbox, "?$select=imi_gc"), timeout=30).json()
        assert len(plain["value"]) == 5000 and "$skiptoken=" in plain["@odata.nextLink"]

    def test_an_ordered_query_pages_in_order_and_new_rows_do_not_shift_pages(self, sandbox, web):
        query = "?$select=imi_imnumber,createdon&$orderby=imi_imnumber desc,createdon"
        whole = web.get(jobs_url(sandbox, query), timeout=30).json()
        assert "@odata.nextLink" not in whole
        numbers = [row["imi_imnumber"] for row in whole["value"]]
        summary = sandbox.control("dataverse", "GET", "dataverse/jobs")
        empty, null = summary["im_number_empty"], summary["im_number_null"]
        # Descending puts nulls last, as SQL Server does; "" is the smallest text.
        assert numbers[-(empty + null) :] == [""] * empty + [None] * null
        assert numbers[: -(empty + null)] == sorted(numbers[: -(empty + null)], reverse=True)

        first = web.get(jobs_url(sandbox, query), headers={"Prefer": "odata.maxpagesize=7"})
        added = job(imi_imnumber="99-9999", imi_submittalstatus=APPROVED)
        load(sandbox, records=[added], replace=False)  # sorts first: before the cookie's row
        paged = first.json()["value"] + every_row(web, first.json()["@odata.nextLink"], 7)
        assert ids(paged) == ids(whole["value"])
        assert added["imi_jobid"] not in ids(paged)

    def test_a_cookie_only_continues_the_query_it_came_from(self, sandbox, web):
        first = web.get(jobs_url(sandbox), headers={"Prefer": "odata.maxpagesize=10"}).json()
        token = first["@odata.nextLink"].split("$skiptoken=")[1]
        other = web.get(jobs_url(sandbox, f"?$orderby=createdon&$skiptoken={token}"))
        assert other.status_code == 400 and error_of(other)[1] == "0x80060888"
        assert error_of(other)[2].startswith("The $skiptoken value is not a valid paging cookie")

    def test_count_stops_at_5000(self, sandbox, web):
        load(sandbox, count=12_000, seed=2)
        capped = web.get(jobs_url(sandbox, "?$count=true&$select=imi_gc"), timeout=30).json()
        assert capped["@odata.count"] == 5000
        assert list(capped)[:3] == ["@odata.context", "@odata.count", "value"]
        load(sandbox, records=[job(imi_gc="Skender"), job(imi_gc="Skender"), job(imi_gc=None)])
        exact = web.get(
            jobs_url(sandbox), params={"$count": "true", "$filter": "imi_gc eq 'skender'"}
        )
        assert exact.json()["@odata.count"] == 2 and len(exact.json()["value"]) == 2


class TestQueries:
    @pytest.fixture
    def crafted(self, sandbox):
        rows = {
            "a": job(imi_imnumber="25-0001", imi_submittalstatus=APPROVED, createdon="2025-03-01T08:00:00Z", imi_gc="Walsh Construction"),
            "b": job(imi_imnumber="25-0002", imi_submittalstatus=APPROVED, createdon="2025-06-01T14:05:09Z", imi_productionphase=826130002, imi_gc="walsh builders"),
            "c": job(imi_imnumber="25-0003", imi_submittalstatus=APPROVED, statecode=1, createdon="2025-07-01T00:00:00Z", imi_gc=""),
            "d": job(imi_imnumber="25-0004", imi_submittalstatus=NEEDED, createdon="2025-08-01T00:00:00Z", imi_gc="O'Neil"),
            "e": job(imi_imnumber="25-0005", imi_submittalstatus=None, createdon="2024-05-01T00:00:00Z", imi_gc=None),
            "f": job(imi_imnumber=None, imi_submittalstatus=APPROVED, createdon="2024-12-31T23:59:59-06:00", imi_gc=None),
        }  # fmt: skip
        assert load(sandbox, records=list(rows.values())) == {"jobs": 6, "approved_active": 2}
        return {name: row["imi_jobid"] for name, row in rows.items()}

    def test_the_approved_filter_returns_exactly_the_matching_rows_newest_first(
        self, sandbox, web, crafted
    ):
        select = "imi_imnumber,imi_submittalstatus,createdon,statecode"
        url = jobs_url(
            sandbox, f"?$select={select}&$filter={APPROVED_ACTIVE}&$orderby=createdon desc"
        )
        plain = web.get(url)
        assert ids(plain.json()["value"]) == [crafted["b"], crafted["a"], crafted["f"]]
        assert plain.json()["@odata.context"].endswith(f"$metadata#imi_jobs({select})")
        row = plain.json()["value"][0]
        assert set(row) == {"@odata.etag", *select.split(","), "imi_jobid"}  # the key comes too
        assert re.fullmatch(r'W/"\d+"', row["@odata.etag"])
        assert row["createdon"] == "2025-06-01T14:05:09Z"
        assert plain.json()["value"][2]["createdon"] == "2025-01-01T05:59:59Z"  # stored in UTC
        assert "Preference-Applied" not in plain.headers

        labelled = web.get(url, headers={"Prefer": ANNOTATIONS})
        assert labelled.headers["Preference-Applied"] == ANNOTATIONS
        row = labelled.json()["value"][0]
        assert row[f"imi_submittalstatus@{FORMATTED}"] == "Approved"
        assert row[f"statecode@{FORMATTED}"] == "Active"
        assert row[f"createdon@{FORMATTED}"] == "6/1/2025 2:05 PM"
        assert f"imi_imnumber@{FORMATTED}" not in row
        keys = list(row)
        assert keys.index(f"statecode@{FORMATTED}") == keys.index("statecode") - 1

        everything = web.get(
            url, headers={"Prefer": 'odata.maxpagesize=2, odata.include-annotations="*"'}
        )
        assert (
            everything.headers["Preference-Applied"]
            == 'odata.maxpagesize=2,odata.include-annotations="*"'
        )
        assert [r[f"imi_submittalstatus@{FORMATTED}"] for r in everything.json()["value"]] == [
            "Approved"
        ] * 2
        assert len(everything.json()["value"]) == 2 and "@odata.nextLink" in everything.json()

    def test_without_select_every_column_comes_back(self, sandbox, web, crafted):
        body = web.get(jobs_url(sandbox, f"?$filter=imi_jobid eq {crafted['b']}")).json()
        assert body["@odata.context"].endswith("/api/data/v9.2/$metadata#imi_jobs")
        assert body["value"][0] | {"@odata.etag": None} == {
            "@odata.etag": None,
            "imi_jobid": crafted["b"],
            "imi_imnumber": "25-0002",
            "imi_jobnameaddress": "Test job - 1 Main St",
            "imi_gc": "walsh builders",
            "imi_scopesummary": None,
            "imi_submittalstatus": APPROVED,
            "imi_productionphase": 826130002,
            "statecode": 0,
            "statuscode": 1,
            "createdon": "2025-06-01T14:05:09Z",
            "modifiedon": "2025-06-01T14:05:09Z",
            "versionnumber": body["value"][0]["versionnumber"],
        }

    @pytest.mark.parametrize(
        ("condition", "expected"),
        [
            ("imi_gc ne 'Walsh Construction'", "bcd"),  # ne leaves nulls out
            ("imi_gc eq null", "ef"),
            ("imi_gc ne null and imi_gc ne ''", "abd"),
            ("contains(imi_gc,'WALSH')", "ab"),  # text compares without case
            ("startswith(imi_gc,'walsh b') or endswith(imi_gc,'''neil')", "bd"),
            ("imi_gc eq 'O''Neil'", "d"),
            ("not (imi_gc eq null) and not contains(imi_gc,'walsh')", "cd"),
            (
                "(imi_submittalstatus eq null or imi_submittalstatus eq 826130000) and statecode eq 0",
                "de",
            ),
            ("imi_submittalstatus ne 826130004", "d"),  # null status is unknown, not "not approved"
            ("createdon ge 2025-01-02 and createdon lt 2025-06-01T09:05:09-05:00", "a"),
            ("createdon gt 2025-01-01T05:59:58Z and createdon le 2025-03-01T08:00:00Z", "af"),
            ("statecode eq 1 or imi_productionphase gt 826130001", "bc"),
            ("imi_jobid eq {b} or imi_jobid eq {e}", "be"),
        ],
    )
    def test_filters_follow_sql_server(self, sandbox, web, crafted, condition, expected):
        condition = condition.format(**crafted)
        answer = web.get(jobs_url(sandbox), params={"$filter": condition, "$select": "imi_gc"})
        assert answer.status_code == 200, answer.text
        assert sorted(ids(answer.json()["value"])) == sorted(crafted[name] for name in expected)

    def test_one_job_by_id_and_a_missing_one(self, sandbox, web, crafted):
        one = web.get(jobs_url(sandbox, f"({crafted['d']})"), headers={"Prefer": ANNOTATIONS})
        assert one.status_code == 200
        assert one.json()["@odata.context"].endswith("/api/data/v9.2/$metadata#imi_jobs/$entity")
        assert one.headers["ETag"] == one.json()["@odata.etag"]
        assert one.json()["imi_gc"] == "O'Neil"
        assert one.json()[f"imi_submittalstatus@{FORMATTED}"] == "Needed"
        picked = web.get(jobs_url(sandbox, f"({crafted['d']})?$select=imi_gc")).json()
        assert picked["@odata.context"].endswith("$metadata#imi_jobs(imi_gc)/$entity")
        assert set(picked) == {"@odata.context", "@odata.etag", "imi_gc", "imi_jobid"}
        missing = str(uuid.uuid4())
        assert error_of(web.get(jobs_url(sandbox, f"({missing})"))) == (
            404,
            "0x80040217",
            f"imi_job With Id = {missing} Does Not Exist",
        )
        assert error_of(web.get(jobs_url(sandbox, "(42)")))[:2] == (400, "0x80060888")


class TestMetadata:
    def test_metadata_is_csdl_of_the_job_table_and_who_am_i(self, sandbox, web):
        url = f"{sandbox.url('dataverse')}/api/data/v9.2/$metadata"
        answer = web.get(url)
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"].startswith("application/xml")
        edm = "{http://docs.oasis-open.org/odata/ns/edm}"
        schema = ElementTree.fromstring(answer.content).find(f".//{edm}Schema")
        assert schema.get("Namespace") == "Microsoft.Dynamics.CRM"
        job = schema.find(f"{edm}EntityType[@Name='imi_job']")
        assert [r.get("Name") for r in job.iter(f"{edm}PropertyRef")] == ["imi_jobid"]
        assert {p.get("Name"): p.get("Type") for p in job.findall(f"{edm}Property")} == {
            "imi_jobid": "Edm.Guid",
            "imi_imnumber": "Edm.String",
            "imi_jobnameaddress": "Edm.String",
            "imi_gc": "Edm.String",
            "imi_scopesummary": "Edm.String",
            "imi_submittalstatus": "Edm.Int32",
            "imi_productionphase": "Edm.Int32",
            "statecode": "Edm.Int32",
            "statuscode": "Edm.Int32",
            "createdon": "Edm.DateTimeOffset",
            "modifiedon": "Edm.DateTimeOffset",
            "versionnumber": "Edm.Int64",
        }
        container = schema.find(f"{edm}EntityContainer")
        assert container.find(f"{edm}EntitySet[@Name='imi_jobs']").get("EntityType") == (
            "Microsoft.Dynamics.CRM.imi_job"
        )
        assert container.find(f"{edm}FunctionImport[@Name='WhoAmI']") is not None
        del web.headers["Authorization"]
        assert web.get(url).status_code == 401


class TestErrors:
    @pytest.mark.parametrize(
        ("query", "code", "message"),
        [
            ("$select=imi_jobid,imi_name", "0x80060888", "Could not find a property named 'imi_name' on type 'Microsoft.Dynamics.CRM.imi_job'."),
            ("$filter=imi_name eq 'x'", "0x80060888", "Could not find a property named 'imi_name' on type 'Microsoft.Dynamics.CRM.imi_job'."),
            ("$orderby=imi_name desc", "0x80060888", "Could not find a property named 'imi_name' on type 'Microsoft.Dynamics.CRM.imi_job'."),
            ("$filter=imi_gc eqq 'x'", "0x80060888", "')' or operator expected at position 7 in 'imi_gc eqq 'x''."),
            ("$filter=imi_gc eq 'x", "0x80060888", "There is an unterminated string literal at position 12 in 'imi_gc eq 'x'."),
            ("$filter=(statecode eq 0", "0x80060888", "')' or operator expected at position 15 in '(statecode eq 0'."),
            ("$filter=statecode eq", "0x80060888", "Expression expected at position 12 in 'statecode eq'."),
            ("$filter=imi_submittalstatus eq '826130004'", "0x80060888", "A binary operator with incompatible types was detected. Found operand types 'Edm.Int32' and 'Edm.String' for operator kind 'Equal'."),
            ("$filter=imi_gc", "0x80060888", "The $filter expression must evaluate to a single boolean value."),
            ("$orderby=createdon down", "0x80060888", "Syntax error at position 10 in 'createdon down'."),
            ("$orderby=createdon,createdon desc", "0x80048d16", "A column has been specified more than once in the order by list. Columns in the order by list must be unique."),
            ("$skip=10", "0x80060888", "The query parameter $skip is not supported"),
            ("$top=-1", "0x80060888", "Invalid value '-1' for $top query option found. The $top query option requires a non-negative integer value."),
            ("$count=yes", "0x80060888", "Invalid value 'yes' for $count query option found. Valid values are 'true, false'."),
            ("$select=imi_gc&$select=imi_gc", "0x80060888", "Query option '$select' was specified more than once, but it must be specified at most once."),
            ("$skiptoken=abc", "0x80060888", "The $skiptoken value is not a valid paging cookie: 'abc'."),
        ],
    )  # fmt: skip
    def test_bad_queries_are_400_with_dataverse_bodies(self, sandbox, web, query, code, message):
        answer = web.get(jobs_url(sandbox, f"?{query}"))
        assert error_of(answer) == (400, code, message)

    @pytest.mark.parametrize("segment", ["imi_job", "Imi_jobs", "imi_jobss"])
    def test_a_wrong_entity_set_name_is_a_missing_segment(self, sandbox, web, segment):
        answer = web.get(f"{sandbox.url('dataverse')}/api/data/v9.2/{segment}?$top=1")
        assert error_of(answer) == (
            404,
            "0x8006088a",
            f"Resource not found for the segment '{segment}'.",
        )

    def test_no_token_no_rows(self, sandbox, web):
        del web.headers["Authorization"]
        for url in (jobs_url(sandbox), jobs_url(sandbox, f"({uuid.uuid4()})")):
            answer = web.get(url)
            assert answer.status_code == 401 and answer.content == b""
            assert answer.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")

    def test_a_429_storm_has_retry_after_and_the_service_protection_body(self, sandbox, web):
        sandbox.fault(
            "dataverse", kind="storm", path="/api/data/v9.2/imi_jobs", count=1, retry_after=7
        )
        stormy = web.get(jobs_url(sandbox, "?$top=1"))
        assert stormy.status_code == 429 and stormy.headers["Retry-After"] == "7"
        assert error_of(stormy)[1:] == (
            "0x80072322",
            "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
        )
        assert web.get(jobs_url(sandbox, "?$top=1")).status_code == 200
        first_id = web.get(jobs_url(sandbox, "?$top=1")).json()["value"][0]["imi_jobid"]
        assert web.get(jobs_url(sandbox, f"({first_id})")).status_code == 200
        calls = sandbox.calls("dataverse")
        assert calls["by_endpoint"] == {
            "GET /api/data/v9.2/imi_jobs": 3,
            "GET /api/data/v9.2/imi_jobs({key})": 1,
        }
        assert calls["by_status"] == {"429": 1, "200": 3}

    def test_the_rate_limit_counts_job_reads(self, sandbox, web):
        sandbox.set_limit("dataverse", 2, 300)
        assert [web.get(jobs_url(sandbox, "?$top=1")).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]


class TestControlPlane:
    def test_the_default_seed_covers_what_a_client_must_survive(self, sandbox, web):
        rows = every_row(web, jobs_url(sandbox))
        assert len(rows) == 300
        assert {row["imi_submittalstatus"] for row in rows} == {*range(826130000, 826130006), None}
        assert {row["statecode"] for row in rows} == {0, 1}
        assert all(row["statuscode"] == row["statecode"] + 1 for row in rows)
        numbers = [row["imi_imnumber"] for row in rows]
        assert None in numbers and "" in numbers
        real = [n for n in numbers if n]
        assert len(real) == len(set(real)) and all(re.fullmatch(r"\d{2}-\d{4}", n) for n in real)
        scopes = [row["imi_scopesummary"] for row in rows]
        assert None in scopes and "" in scopes and any(s and len(s) > 255 for s in scopes)
        assert None in {row["imi_gc"] for row in rows}
        assert None in {row["imi_productionphase"] for row in rows}
        summary = sandbox.control("dataverse", "GET", "dataverse/jobs")
        taken = [
            row
            for row in rows
            if row["imi_submittalstatus"] == APPROVED
            and row["statecode"] == 0
            and row["imi_imnumber"]
        ]
        assert summary["approved_active"] == len(taken) > 0
        load(sandbox, count=5, seed=9)
        sandbox.control("dataverse", "POST", "reset", {"seed": 0})  # Azure AD keeps the token
        assert ids(every_row(web, jobs_url(sandbox))) == ids(rows)  # the same seed, the same jobs

    def test_generated_jobs_replace_or_append_and_report_their_counts(self, sandbox, web):
        answer = load(sandbox, count=20_000, seed=3, approved_share=0.5, replace=True)
        assert answer["jobs"] == 20_000
        assert 0.35 * 20_000 < answer["approved_active"] < 0.5 * 20_000
        query = f"?$select=imi_imnumber&$filter={APPROVED_ACTIVE} and imi_imnumber ne null and imi_imnumber ne ''"
        assert len(every_row(web, jobs_url(sandbox, query))) == answer["approved_active"]

        more = load(sandbox, count=100, seed=4, replace=False)
        assert more["jobs"] == 20_100
        numbers = [
            row["imi_imnumber"]
            for row in every_row(web, jobs_url(sandbox, "?$select=imi_imnumber"))
        ]
        real = [n for n in numbers if n]
        assert len(numbers) == 20_100 and len(real) == len(set(real))

    def test_explicit_records_are_checked(self, sandbox):
        for records in ([{"imi_colour": "red"}], [{"imi_submittalstatus": 5}], [{"statecode": 3}]):
            answer = sandbox.http.post(
                f"{sandbox.url('dataverse')}/_sandbox/dataverse/jobs", json={"records": records}
            )
            assert answer.status_code == 400 and answer.json()["error"]
        assert sandbox.control("dataverse", "GET", "dataverse/jobs")["jobs"] == 300

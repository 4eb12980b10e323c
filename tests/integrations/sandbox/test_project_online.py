"""The Project Online emulator as a client meets it over TLS: the ProjectData feed's paging by
next link and its $metadata with the custom fields, the ProjectServer reads, SharePoint's 401
and throttling answers, JSON errors for unknown paths, and the large-project generator."""

import pytest
import requests
from django.conf import settings

from integrations import sandbox as sandbox_module

pytestmark = pytest.mark.django_db
EMULATOR = "project-online"
FEED = "/sites/pwa/_api/ProjectData"
SERVER = "/sites/pwa/_api/ProjectServer"


def session() -> requests.Session:
    """A plain client: no bucket and no retries in the way of the answers under test."""
    client = requests.Session()
    client.trust_env = False
    client.verify = str(settings.SANDBOX_CA_BUNDLE)
    return client


def token(sandbox, audience: str | None = None) -> str:
    answer = session().post(
        f"{sandbox.url('azure')}/{sandbox_module.DATAVERSE_TENANT_ID}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox_module.DATAVERSE_CLIENT_ID,
            "client_secret": sandbox_module.DATAVERSE_CLIENT_SECRET,
            "scope": f"{audience or sandbox.url(EMULATOR)}/.default",
        },
    )
    return answer.json()["access_token"]


@pytest.fixture
def get(sandbox):
    bearer = token(sandbox)
    client = session()

    def get(path_or_url: str, **headers):
        url = (
            path_or_url if path_or_url.startswith("https:") else sandbox.url(EMULATOR) + path_or_url
        )
        return client.get(
            url,
            headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json", **headers},
        )

    return get


@pytest.fixture
def page_sizes(sandbox):
    def configure(**sizes):
        sandbox.configure(EMULATOR, page_sizes=sizes)

    yield configure
    sandbox.configure(EMULATOR, page_sizes={})


def project_id(get, name: str) -> str:
    projects = get(f"{FEED}/Projects?$select=ProjectId,ProjectName").json()["value"]
    return next(p["ProjectId"] for p in projects if p["ProjectName"] == name)


def test_the_feed_pages_by_next_link_to_the_last_row(get, page_sizes):
    page_sizes(Tasks=7)
    website = project_id(get, "Website Redesign 2024")
    url = f"{FEED}/Tasks?$filter=ProjectId eq guid'{website}'&$select=TaskId,TaskName,TaskDuration"
    seen, pages = [], 0
    while url:
        body = get(url).json()
        pages += 1
        assert len(body["value"]) <= 7
        assert all(set(row) == {"TaskId", "TaskName", "TaskDuration"} for row in body["value"])
        seen += [row["TaskId"] for row in body["value"]]
        url = body.get("odata.nextLink")
        if url:
            assert "$skiptoken=" in url and "$filter=ProjectId" in url
    assert len(seen) == len(set(seen)) == 22  # 21 tasks and the project summary
    assert pages == 4
    # Decimal hours travel as strings in JSON light.
    assert (
        get(url or f"{FEED}/Tasks?$top=1&$select=TaskDuration")
        .json()["value"][0]["TaskDuration"]
        .replace(".", "")
        .isdigit()
    )


def test_the_verbose_format_pages_with_next(get, page_sizes):
    page_sizes(Resources=10)
    body = get(
        f"{FEED}/Resources?$select=ResourceId", Accept="application/json;odata=verbose"
    ).json()
    assert len(body["d"]["results"]) == 10
    assert "$skiptoken=" in body["d"]["__next"]


def test_metadata_lists_the_custom_fields_named_after_their_display_names(get):
    response = get(f"{FEED}/$metadata")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/xml")
    text = response.text
    assert '<EntityType Name="Task">' in text
    assert '<Property Name="CostCenter" Type="Edm.String" />' in text  # "Cost Center #"
    assert '<Property Name="ClientVisible" Type="Edm.Boolean" />' in text  # "Client Visible?"
    assert '<Property Name="GoLiveDate" Type="Edm.DateTime" />' in text  # "Go-Live Date"
    assert '<Property Name="HourlyBand" Type="Edm.Decimal" />' in text
    website = project_id(get, "Website Redesign 2024")
    row = get(
        f"{FEED}/Projects?$filter=ProjectId eq guid'{website}'&$select=ProjectPhase,ApprovedBudget"
    ).json()
    assert row["value"] == [{"ProjectPhase": "Execute", "ApprovedBudget": "185000.0"}]


def test_project_server_serves_links_tasks_and_custom_fields(get):
    website = project_id(get, "Website Redesign 2024")
    links = get(f"{SERVER}/Projects('{website}')/TaskLinks").json()["value"]
    assert {link["DependencyType"] for link in links} == {0, 1, 2, 3}
    lags = [link["LinkLag"] for link in links]
    assert min(lags) == -14400 and 9600 in lags  # a 3-day lead, a 2-day lag (tenths of a minute)
    tasks = get(f"{SERVER}/Projects('{website}')/Tasks?$select=Id,Notes,ConstraintType").json()[
        "value"
    ]
    assert len(tasks) == 21 and {t["ConstraintType"] for t in tasks} == {0, 3, 4}
    fields = get(f"{SERVER}/CustomFields?$expand=EntityType,LookupTable").json()["value"]
    risk = next(f for f in fields if f["Name"] == "Risk Level")
    assert risk["EntityType"]["Name"] == "Task" and risk["LookupTable"]["Name"] == "Risk Level"
    assert risk["InternalName"].startswith("Custom_") and risk["FieldType"] == 21
    formula = next(f for f in fields if f["Formula"])
    assert formula["Name"] == "Work Days Left"
    tables = get(f"{SERVER}/LookupTables?$expand=Entries").json()["value"]
    assert {t["Name"] for t in tables} == {"Project Phase", "Department", "Risk Level"}
    missing = get(f"{SERVER}/Projects('00000000-0000-0000-0000-000000000001')/TaskLinks")
    assert missing.status_code == 404 and "odata.error" in missing.json()


def test_a_request_without_a_good_token_is_refused_as_sharepoint_does(sandbox):
    url = f"{sandbox.url(EMULATOR)}{FEED}/Projects"
    anonymous = session().get(url)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith('Bearer realm="')
    assert (
        anonymous.json()["odata.error"]["code"] == "-2147024891, System.UnauthorizedAccessException"
    )
    # A token for another resource (here: Dataverse's) is not one for this SharePoint host.
    other = token(sandbox, audience=sandbox.url("dataverse"))
    refused = session().get(url, headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code == 401
    assert refused.json() == {"error_description": "Invalid issuer or signature."}


def test_over_the_limit_it_answers_429_with_retry_after_and_503_when_configured(sandbox, get):
    sandbox.set_limit(EMULATOR, 2, 60)
    assert get(f"{FEED}/Projects").status_code == 200
    assert get(f"{FEED}/Projects").status_code == 200
    throttled = get(f"{FEED}/Projects")
    assert throttled.status_code == 429
    assert 50 <= int(throttled.headers["Retry-After"]) <= 60
    assert "odata.error" in throttled.json()
    sandbox.configure(EMULATOR, throttle_status=503, retry_after=7)
    try:
        busy = get(f"{FEED}/Projects")
    finally:
        sandbox.configure(EMULATOR, throttle_status=429, retry_after=None)
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "7"


def test_unknown_paths_get_json_errors(get):
    feed = get(f"{FEED}/Timesheets")
    assert feed.status_code == 404
    assert (
        feed.json()["odata.error"]["message"]["value"]
        == "Resource not found for the segment 'Timesheets'."
    )
    rest = get("/sites/pwa/_api/ProjectServer/EnterpriseResources")
    assert rest.status_code == 404 and rest.headers["Content-Type"].startswith("application/json")
    assert "InvalidClientQueryException" in rest.json()["odata.error"]["code"]
    bad_option = get(f"{FEED}/Tasks?$count=true")
    assert bad_option.status_code == 400 and "odata.error" in bad_option.json()


def test_the_generator_makes_the_benchmark_project(sandbox, get):
    body = {"tasks": 5000, "depth": 6, "resources": 200, "assignments": 8000, "links": 4000}
    made = sandbox.control(EMULATOR, "POST", "project-online/generate", body)
    assert made["tasks"] == 5000 and made["depth"] == 6
    assert made["assignments"] == 8000 and made["links"] == 4000 and made["resources"] <= 200
    assert made["summary_tasks"] > 0 and made["milestones"] > 0
    again = sandbox.http.post(
        f"{sandbox.url(EMULATOR)}/_sandbox/project-online/generate", json=body, timeout=30
    )
    assert again.status_code == 409  # the same seed and name make the same project
    links = get(f"{SERVER}/Projects('{made['project_id']}')/TaskLinks").json()["value"]
    assert len(links) == 4000 and {link["DependencyType"] for link in links} == {0, 1, 2, 3}
    assert min(link["LinkLag"] for link in links) < 0 < max(link["LinkLag"] for link in links)
    tiny = {"tasks": 8, "depth": 6, "resources": 2, "assignments": 1, "links": 0, "name": "Tiny"}
    assert sandbox.control(EMULATOR, "POST", "project-online/generate", tiny)["depth"] == 6
    listed = sandbox.control(EMULATOR, "GET", "project-online/projects")
    assert any(p["id"] == made["project_id"] and p["tasks"] == 5000 for p in listed["projects"])


def test_one_entity_by_its_key(get):
    website = project_id(get, "Website Redesign 2024")
    one = get(f"{FEED}/Projects(guid'{website}')?$select=ProjectName")
    assert one.status_code == 200, one.text
    assert one.json()["ProjectName"] == "Website Redesign 2024"
    assert one.json()["odata.metadata"].endswith("#Projects/@Element&$select=ProjectName")
    absent = get(f"{FEED}/Projects(guid'00000000-0000-0000-0000-000000000001')")
    assert absent.status_code == 404 and "odata.error" in absent.json()

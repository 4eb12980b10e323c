"""Microsoft Project Online (a PWA site): the ProjectData reporting feed (OData v3) and the
ProjectServer REST API, with an Azure AD token for the site's SharePoint host.

A connection holds the PWA site URL (`https://<tenant>.sharepoint.com/sites/pwa`) and Azure AD
client credentials; the token is asked for `https://<tenant>.sharepoint.com/.default` (the
SharePoint resource), through the same msal application cache as Dataverse's. Every feed read
follows `odata.nextLink` to the end (page sizes differ per entity set and are the server's) and
names its columns with `$select`; a project's rows are read with `$filter=ProjectId eq
guid'…'`. What leaves this module are the small typed records below, vendor values parsed
(Decimal strings to floats, Int16 to int); their meaning (hours, tenths of a minute, enum codes)
is kept as the API gives it, for the migration's source adapter to normalise.

# Reference: ../shared/providers/project-online.md §2 (the feed's URL, OData v3 JSON light
# `value` + `odata.nextLink`, follow the next link and never hard-code a page size, `$filter` +
# `$select`, keys, property names, decimal hours, custom fields named after their display
# names), §3 (ProjectServer/Projects, Projects('<id>') TaskLinks, MinutesPerDay, a token for the
# resource https://<tenant>.sharepoint.com as Bearer); learn.microsoft.com/previous-versions/
# office/developer/project-online-reference/api/customfield (/_api/ProjectServer/CustomFields:
# Name, InternalName, FieldType, Formula, EntityType, LookupTable), project-javascript-api
# jj668364 (lookup entries), project-class jj231691 / jj234563 (PublishedTask ConstraintType,
# ConstraintStartEnd), jj236298 (CustomFieldType codes); SharePoint's error bodies
# {"odata.error":{"code","message":{"lang","value"}}} and {"error_description"} (see
# integrations/sandbox/project_online.py for their sources).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
from django.conf import settings
from lxml import etree

from integrations.connections import http
from integrations.connections.providers import dataverse
from integrations.connections.providers.base import Identity, ProviderSpec, TokenSet, rate_key

SPEC = ProviderSpec(
    name="project_online",
    label="Microsoft Project Online",
    kind="client_credentials",
    per_user=False,
    scopes=(),  # "https://<tenant>.sharepoint.com/.default", from the connection's site URL
    pkce=False,
)
FEED = "/_api/ProjectData"
SERVER = "/_api/ProjectServer"
JSON_LIGHT = "application/json;odata=minimalmetadata"

# CustomFieldType (learn.microsoft.com project-class jj236298).
FIELD_TYPES = {
    9: "cost",
    4: "date",
    27: "date",  # FINISHDATE
    6: "duration",
    17: "flag",
    15: "number",
    21: "text",
}


def default_site_url() -> str:
    """The PWA site a new connection starts with (the emulator's in sandbox mode)."""
    return settings.PROVIDER_URLS["project_online_site"]


def site_host(connection) -> str:
    """The SharePoint host the site lives on: the resource its tokens are for."""
    parts = urlsplit(connection.instance_url)
    return f"{parts.scheme}://{parts.netloc}"


def acquire_token(connection) -> TokenSet:
    """A new token for the site's SharePoint host (`https://<tenant>.sharepoint.com/.default`)."""
    return dataverse.acquire_token(connection, audience=site_host(connection))


def forget(connection) -> None:
    dataverse.forget(connection)


def headers(access_token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {access_token}",
        "Accept": JSON_LIGHT,
        "MaxDataServiceVersion": "3.0",
    }


def raise_for_error(response: requests.Response, action: str) -> None:
    """SharePoint's errors: {"odata.error": {"code", "message": {"value"}}} or, for a refused
    token, {"error_description"}. The message goes into the typed error, never the request."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("odata.error") or body.get("error") or {}
    message = error.get("message") if isinstance(error, dict) else None
    detail = message.get("value", "") if isinstance(message, dict) else (message or "")
    detail = detail or body.get("error_description", "")
    http.raise_for_status(
        response,
        provider="project_online",
        message=f"Project Online refused {action} ({response.status_code})"
        + (f": {detail.splitlines()[0][:300]}" if detail else ""),
        code=str(error.get("code", "")) if isinstance(error, dict) else "",
    )


@dataclass
class Api:
    """The connection's SDK object (services.ConnectionClient): its token, the site and one
    HTTP session for a run's calls, so page after page reuses its open connection."""

    token: str
    site: str
    session: requests.Session

    def get(self, url: str, action: str) -> dict:
        response = self.session.get(url, headers=headers(self.token))
        raise_for_error(response, action)
        return response.json()

    def url(self, path: str, params: dict[str, str] | None = None) -> str:
        query = urlencode(params or {}, quote_via=quote, safe="$,'()")
        return f"{self.site}{path}" + (f"?{query}" if query else "")

    def pages(self, url: str, action: str) -> Iterator[list[dict]]:
        """Every page of a collection, following `odata.nextLink` unchanged to the end."""
        while url:
            body = self.get(url, action)
            yield body.get("value", [])
            url = body.get("odata.nextLink")


def sdk(connection, access_token: str) -> Api:
    return Api(
        access_token,
        connection.instance_url.rstrip("/"),
        http.session("project_online", key=rate_key(connection)),
    )


def whoami(connection, access_token: str) -> Identity:
    """Project Online has no who-am-i of its own: the feed's project list proves the token is
    good for the site and the account may read the reporting feed."""
    api = sdk(connection, access_token)
    body = api.get(api.url(f"{FEED}/Projects", {"$select": "ProjectId", "$top": "1"}), "a read")
    return Identity(
        user_id=connection.client_id,
        account_id=connection.instance_url,
        account_name=connection.instance_url,
        extra={"projects_visible": bool(body.get("value"))},
    )


# --- typed records -----------------------------------------------------------------------------


def _number(value) -> float | None:
    """Decimal and Double come as strings ("40.0") in JSON light, Int16/Int32 as numbers."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


@dataclass(frozen=True)
class ProjectSummary:
    id: str
    name: str | None
    modified: str | None


@dataclass(frozen=True)
class FeedProject:
    id: str
    name: str | None
    description: str | None
    start: str | None
    finish: str | None
    owner_id: str | None
    owner_name: str | None
    author: str | None
    percent_complete: int | None
    type_name: str | None
    created: str | None
    modified: str | None
    custom: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedTask:
    id: str
    project_id: str
    name: str | None
    parent_id: str | None
    start: str | None
    finish: str | None
    duration_hours: float | None
    percent_complete: Any  # as the feed gave it: the migration validates it
    is_milestone: bool
    is_summary: bool
    is_project_summary: bool
    is_active: bool
    outline_level: int | None
    index: int | None
    priority: int | None
    work_hours: float | None
    actual_work_hours: float | None
    deadline: str | None
    created: str | None
    modified: str | None
    custom: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedAssignment:
    id: str
    project_id: str
    task_id: str
    resource_id: str
    start: str | None
    finish: str | None
    work_hours: float | None
    actual_work_hours: float | None
    remaining_work_hours: float | None
    percent_work_complete: int | None
    cost: float | None


@dataclass(frozen=True)
class FeedResource:
    id: str
    name: str | None
    email: str | None
    type: int | None  # 0 Work, 1 Material, 2 Cost
    is_active: bool
    is_generic: bool
    group: str | None
    max_units_percent: float | None
    standard_rate: float | None
    overtime_rate: float | None
    cost_per_use: float | None
    base_calendar: str | None
    code: str | None
    created: str | None
    modified: str | None
    custom: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishedProject:
    id: str
    name: str | None
    minutes_per_day: int | None


@dataclass(frozen=True)
class PublishedTask:
    id: str
    notes: str | None
    constraint_type: int | None  # 0 ASAP ... 7 FNLT
    constraint_date: str | None
    deadline: str | None


@dataclass(frozen=True)
class TaskLink:
    id: str
    predecessor_id: str | None
    successor_id: str | None
    dependency_type: int | None  # 0 FF, 1 FS, 2 SF, 3 SS
    lag_tenths_of_minute: int


@dataclass(frozen=True)
class CustomFieldDefinition:
    id: str
    name: str
    internal_name: str
    field_type: int | None
    kind: str | None  # text, number, date, flag, cost, duration (FIELD_TYPES)
    formula: str | None
    entity: str | None  # "Project" | "Task" | "Resource"
    lookup_table: str | None
    lookup_values: tuple[str, ...] = ()


# --- reads -------------------------------------------------------------------------------------


def _guid(value: str) -> str:
    return f"guid'{value}'"


def list_projects(api: Api) -> list[ProjectSummary]:
    """Every published project the account may read."""
    url = api.url(
        f"{FEED}/Projects",
        {"$select": "ProjectId,ProjectName,ProjectModifiedDate", "$orderby": "ProjectName"},
    )
    return [
        ProjectSummary(row["ProjectId"], row.get("ProjectName"), row.get("ProjectModifiedDate"))
        for page in api.pages(url, "the project list")
        for row in page
    ]


def feed_properties(api: Api) -> dict[str, dict[str, str]]:
    """The feed's entity types and their properties with EDM types, from `$metadata`:
    {"Task": {"TaskId": "Edm.Guid", ..., "RiskLevel": "Edm.String"}}."""
    response = api.session.get(
        api.url(f"{FEED}/$metadata"), headers={**headers(api.token), "Accept": "application/xml"}
    )
    raise_for_error(response, "the feed's $metadata")
    # No entities, no DTDs, no network: the document is a service's, but parsed as untrusted.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(response.content, parser)
    types: dict[str, dict[str, str]] = {}
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.endswith("}EntityType"):
            types[element.get("Name")] = {
                prop.get("Name"): prop.get("Type")
                for prop in element
                if isinstance(prop.tag, str) and prop.tag.endswith("}Property")
            }
    return types


def _custom(row: dict, names: Iterable[str], types: dict[str, str]) -> dict[str, Any]:
    values = {}
    for name in names:
        value = row.get(name)
        if value is not None and types.get(name) in ("Edm.Decimal", "Edm.Double"):
            value = _number(value)
        values[name] = value
    return values


def _rows(api: Api, entity_set: str, select: list[str], filter: str, action: str):
    url = api.url(f"{FEED}/{entity_set}", {"$filter": filter, "$select": ",".join(select)})
    for page in api.pages(url, action):
        yield from page


PROJECT_COLUMNS = [
    "ProjectId", "ProjectName", "ProjectDescription", "ProjectStartDate", "ProjectFinishDate",
    "ProjectOwnerId", "ProjectOwnerName", "ProjectAuthorName", "ProjectPercentCompleted",
    "EnterpriseProjectTypeName", "ProjectCreatedDate", "ProjectModifiedDate",
]  # fmt: skip
TASK_COLUMNS = [
    "TaskId", "ProjectId", "TaskName", "ParentTaskId", "TaskStartDate", "TaskFinishDate",
    "TaskDuration", "TaskPercentCompleted", "TaskIsMilestone", "TaskIsSummary",
    "TaskIsProjectSummary", "TaskIsActive", "TaskOutlineLevel", "TaskIndex", "TaskPriority",
    "TaskWork", "TaskActualWork", "TaskDeadline", "TaskCreatedDate", "TaskModifiedDate",
]  # fmt: skip
ASSIGNMENT_COLUMNS = [
    "AssignmentId", "ProjectId", "TaskId", "ResourceId", "AssignmentStartDate",
    "AssignmentFinishDate", "AssignmentWork", "AssignmentActualWork", "AssignmentRemainingWork",
    "AssignmentPercentWorkCompleted", "AssignmentCost",
]  # fmt: skip
RESOURCE_COLUMNS = [
    "ResourceId", "ResourceName", "ResourceEmailAddress", "ResourceType", "ResourceIsActive",
    "ResourceIsGeneric", "ResourceGroup", "ResourceMaxUnits", "ResourceStandardRate",
    "ResourceOvertimeRate", "ResourceCostPerUse", "ResourceBaseCalendar", "ResourceCode",
    "ResourceCreatedDate", "ResourceModifiedDate",
]  # fmt: skip


def _present(columns: list[str], types: dict[str, str]) -> list[str]:
    """The columns this site's feed has (an older feed may lack one): asked for by $select."""
    return [column for column in columns if not types or column in types]


def project(
    api: Api, project_id: str, *, custom: Iterable[str] = (), types: dict[str, str] | None = None
) -> FeedProject | None:
    types = types or {}
    columns = _present(PROJECT_COLUMNS, types)
    rows = list(
        _rows(
            api, "Projects", [*columns, *custom], f"ProjectId eq {_guid(project_id)}", "a project"
        )
    )
    if not rows:
        return None
    row = rows[0]
    return FeedProject(
        id=row["ProjectId"],
        name=row.get("ProjectName"),
        description=row.get("ProjectDescription"),
        start=row.get("ProjectStartDate"),
        finish=row.get("ProjectFinishDate"),
        owner_id=row.get("ProjectOwnerId"),
        owner_name=row.get("ProjectOwnerName"),
        author=row.get("ProjectAuthorName"),
        percent_complete=_int(row.get("ProjectPercentCompleted")),
        type_name=row.get("EnterpriseProjectTypeName"),
        created=row.get("ProjectCreatedDate"),
        modified=row.get("ProjectModifiedDate"),
        custom=_custom(row, custom, types),
    )


def tasks(
    api: Api, project_id: str, *, custom: Iterable[str] = (), types: dict[str, str] | None = None
) -> Iterator[FeedTask]:
    types = types or {}
    custom = list(custom)
    for row in _rows(
        api,
        "Tasks",
        [*_present(TASK_COLUMNS, types), *custom],
        f"ProjectId eq {_guid(project_id)}",
        "the tasks",
    ):
        yield FeedTask(
            id=row["TaskId"],
            project_id=row["ProjectId"],
            name=row.get("TaskName"),
            parent_id=row.get("ParentTaskId"),
            start=row.get("TaskStartDate"),
            finish=row.get("TaskFinishDate"),
            duration_hours=_number(row.get("TaskDuration")),
            percent_complete=row.get("TaskPercentCompleted"),
            is_milestone=bool(row.get("TaskIsMilestone")),
            is_summary=bool(row.get("TaskIsSummary")),
            is_project_summary=bool(row.get("TaskIsProjectSummary")),
            is_active=row.get("TaskIsActive") is not False,
            outline_level=_int(row.get("TaskOutlineLevel")),
            index=_int(row.get("TaskIndex")),
            priority=_int(row.get("TaskPriority")),
            work_hours=_number(row.get("TaskWork")),
            actual_work_hours=_number(row.get("TaskActualWork")),
            deadline=row.get("TaskDeadline"),
            created=row.get("TaskCreatedDate"),
            modified=row.get("TaskModifiedDate"),
            custom=_custom(row, custom, types),
        )


def assignments(
    api: Api, project_id: str, *, types: dict[str, str] | None = None
) -> Iterator[FeedAssignment]:
    for row in _rows(
        api,
        "Assignments",
        _present(ASSIGNMENT_COLUMNS, types or {}),
        f"ProjectId eq {_guid(project_id)}",
        "the assignments",
    ):
        yield FeedAssignment(
            id=row["AssignmentId"],
            project_id=row["ProjectId"],
            task_id=row["TaskId"],
            resource_id=row["ResourceId"],
            start=row.get("AssignmentStartDate"),
            finish=row.get("AssignmentFinishDate"),
            work_hours=_number(row.get("AssignmentWork")),
            actual_work_hours=_number(row.get("AssignmentActualWork")),
            remaining_work_hours=_number(row.get("AssignmentRemainingWork")),
            percent_work_complete=_int(row.get("AssignmentPercentWorkCompleted")),
            cost=_number(row.get("AssignmentCost")),
        )


def resources(
    api: Api, *, custom: Iterable[str] = (), types: dict[str, str] | None = None
) -> Iterator[FeedResource]:
    """The enterprise resource pool (the feed's Resources are not per project)."""
    types = types or {}
    custom = list(custom)
    url = api.url(
        f"{FEED}/Resources", {"$select": ",".join([*_present(RESOURCE_COLUMNS, types), *custom])}
    )
    for page in api.pages(url, "the resources"):
        for row in page:
            yield FeedResource(
                id=row["ResourceId"],
                name=row.get("ResourceName"),
                email=row.get("ResourceEmailAddress"),
                type=_int(row.get("ResourceType")),
                is_active=row.get("ResourceIsActive") is not False,
                is_generic=bool(row.get("ResourceIsGeneric")),
                group=row.get("ResourceGroup"),
                max_units_percent=_number(row.get("ResourceMaxUnits")),
                standard_rate=_number(row.get("ResourceStandardRate")),
                overtime_rate=_number(row.get("ResourceOvertimeRate")),
                cost_per_use=_number(row.get("ResourceCostPerUse")),
                base_calendar=row.get("ResourceBaseCalendar"),
                code=row.get("ResourceCode"),
                created=row.get("ResourceCreatedDate"),
                modified=row.get("ResourceModifiedDate"),
                custom=_custom(row, custom, types),
            )


def published_project(api: Api, project_id: str) -> PublishedProject:
    body = api.get(
        api.url(f"{SERVER}/Projects('{project_id}')", {"$select": "Id,Name,MinutesPerDay"}),
        "the project",
    )
    return PublishedProject(body["Id"], body.get("Name"), _int(body.get("MinutesPerDay")))


def published_tasks(api: Api, project_id: str) -> Iterator[PublishedTask]:
    """Notes, constraints and deadlines: the PublishedTask fields the feed does not carry."""
    url = api.url(
        f"{SERVER}/Projects('{project_id}')/Tasks",
        {"$select": "Id,Notes,ConstraintType,ConstraintStartEnd,Deadline"},
    )
    for page in api.pages(url, "the published tasks"):
        for row in page:
            yield PublishedTask(
                id=row["Id"],
                notes=row.get("Notes"),
                constraint_type=_int(row.get("ConstraintType")),
                constraint_date=row.get("ConstraintStartEnd"),
                deadline=row.get("Deadline"),
            )


def task_links(api: Api, project_id: str) -> Iterator[TaskLink]:
    url = api.url(
        f"{SERVER}/Projects('{project_id}')/TaskLinks",
        {"$select": "Id,PredecessorTaskId,SuccessorTaskId,DependencyType,LinkLag"},
    )
    for page in api.pages(url, "the task links"):
        for row in page:
            yield TaskLink(
                id=row["Id"],
                predecessor_id=row.get("PredecessorTaskId"),
                successor_id=row.get("SuccessorTaskId"),
                dependency_type=_int(row.get("DependencyType")),
                lag_tenths_of_minute=_int(row.get("LinkLag")) or 0,
            )


def custom_fields(api: Api) -> list[CustomFieldDefinition]:
    """The enterprise custom fields with their entity, formula and lookup table values."""
    tables: dict[str, tuple[str, tuple[str, ...]]] = {}
    url = api.url(f"{SERVER}/LookupTables", {"$expand": "Entries"})
    for page in api.pages(url, "the lookup tables"):
        for row in page:
            entries = sorted(
                row.get("Entries") or [], key=lambda e: _number(e.get("SortIndex")) or 0
            )
            tables[row["Id"]] = (row.get("Name"), tuple(e.get("FullValue") for e in entries))
    definitions = []
    url = api.url(f"{SERVER}/CustomFields", {"$expand": "EntityType,LookupTable"})
    for page in api.pages(url, "the custom fields"):
        for row in page:
            table = row.get("LookupTable") or {}
            name, values = tables.get(table.get("Id"), (table.get("Name"), ()))
            field_type = _int(row.get("FieldType"))
            definitions.append(
                CustomFieldDefinition(
                    id=row["Id"],
                    name=row.get("Name") or "",
                    internal_name=row.get("InternalName") or "",
                    field_type=field_type,
                    kind=FIELD_TYPES.get(field_type),
                    formula=row.get("Formula") or None,
                    entity=(row.get("EntityType") or {}).get("Name"),
                    lookup_table=name if table else None,
                    lookup_values=values if table else (),
                )
            )
    return definitions

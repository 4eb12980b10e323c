"""Project Online (one PWA site) emulator: the ProjectData reporting feed and the parts of the
ProjectServer REST API a migration reads, under `/sites/pwa/_api/`, behind Azure AD bearer
tokens for the SharePoint host.

- `ProjectData/` (OData v3, WCF Data Services, on the sandbox's OData engine with its
  `ProjectDataDialect`): Projects, Tasks, Assignments, Resources with their real property
  names, the enterprise custom fields as properties named after their display names minus
  spaces and punctuation, `$metadata` listing them all, server-driven paging per entity set with
  `odata.nextLink` (JSON light) or `__next` (`Accept: application/json;odata=verbose`).
- `ProjectServer/`: `Projects`, `Projects('<id>')`, `Projects('<id>')/Tasks` (PublishedTask:
  Notes, ConstraintType, ConstraintStartEnd, Deadline), `Projects('<id>')/TaskLinks`,
  `CustomFields` (`$expand=EntityType,LookupTable`), `LookupTables` (`$expand=Entries`), in the
  same JSON light; not paged (a whole schedule comes in one call, as MPXJ reads it).
- Auth: a bearer token the Azure AD emulator issued for the site's host (`https://<tenant>
  .sharepoint.com/.default`; here the emulator's own base URL); anything else is 401 with
  SharePoint's `WWW-Authenticate: Bearer realm=…` and its error body.
- Throttling as SharePoint Online: over the limit (`PUT /_sandbox/rate-limit`) a request is
  answered 429 — or 503, `PUT /_sandbox/config {"throttle_status": 503}` — with Retry-After
  (`{"retry_after": seconds}` in the config fixes it; default: until the window frees).
- Control plane: `POST /_sandbox/project-online/generate` {"tasks", "depth", "resources",
  "assignments", "links", "seed", "name"} adds one large project and answers its id and counts;
  `GET /_sandbox/project-online/projects` lists the projects with their counts;
  `PUT /_sandbox/config {"page_sizes": {"Tasks": 50}}` changes the feed's page sizes.

# Reference: ../shared/providers/project-online.md §2 (endpoint /sites/pwa/_api/ProjectData/,
# OData v3, `value` + odata.nextLink with application/json, `{"d":{"results",__next}}` with
# odata=verbose, page size per entity set, keys, entity properties, units, custom fields named
# after display names; throttling 429/503 with Retry-After), §3 (ProjectServer/Projects,
# TaskLinks fields, MPXJ's one-call read, delegated token for https://<tenant>.sharepoint.com);
# learn.microsoft.com/previous-versions/office/developer/project-online-reference/api/
# customfield (CustomField: Id, Name, InternalName, FieldType, Formula, EntityType,
# LookupTable, IsRequired, IsMultilineText, LookupAllowMultiSelect at /_api/ProjectServer/
# CustomFields), project-javascript-api jj668364 (CustomField lookupEntries), api/
# publishedtasklink (ProjectServer/Projects('{id}')/TaskLinks('{linkid}')), project-class
# jj231691 / jj234563 (PublishedTask.ConstraintType, ConstraintStartEnd); SharePoint's 401 body
# {"error_description":"Invalid issuer or signature."} (SharePoint/sp-dev-docs#5889, #2061,
# AzureAD/microsoft-identity-web#1056) and its access-denied body {"error":{"code":
# "-2147024891, System.UnauthorizedAccessException","message":{"lang":"en-US","value":
# "Access denied. ..."}}} (learn.microsoft.com/answers/questions/131535); 429 with Retry-After
# (learn.microsoft.com/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-
# blocked-in-sharepoint-online, pnp.github.io/powershell/articles/throttling: 429 or 503).
# Not published, so chosen: the page sizes (ProjectData's dialect default of 300; Projects
# 100), the throttled body's code and text, the 404 texts (WCF Data Services' "Resource not
# found for the segment" for ProjectData, SharePoint's InvalidClientQueryException for the rest).
"""

import hashlib

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox import project_online_data as data
from integrations.sandbox.core import Caller, Emulator, RateLimit, bearer_token, json_error
from integrations.sandbox.odata import (
    BOOLEAN,
    DATETIME_V3,
    DECIMAL,
    GUID,
    GUID_PATTERN,
    INT16,
    INT32,
    STRING,
    Answer,
    EntitySet,
    Navigation,
    ODataError,
    PagePlan,
    ProjectDataDialect,
    Property,
    Service,
    parse_key,
)

SITE = "/sites/pwa"
API = f"{SITE}/_api"
DEFAULT_PAGE_SIZES = {"Projects": 100}
SHAREPOINT_PRINCIPAL = "00000003-0000-0ff1-ce00-000000000000"  # SharePoint's app id
ACCESS_DENIED = "-2147024891, System.UnauthorizedAccessException"
ODATA_JSON = "application/json;odata=minimalmetadata;streaming=true;charset=utf-8"

_CF_EDM = {
    data.CF_TEXT: STRING,
    data.CF_NUMBER: DECIMAL,
    data.CF_COST: DECIMAL,
    data.CF_DURATION: DECIMAL,
    data.CF_DATE: DATETIME_V3,
    data.CF_FINISHDATE: DATETIME_V3,
    data.CF_FLAG: BOOLEAN,
}


def _custom(entity: str) -> tuple[Property, ...]:
    return tuple(
        Property(data.property_name(name), _CF_EDM[field_type])
        for kind, name, field_type, _, _ in data.CUSTOM_FIELDS
        if kind == entity
    )


def _props(*pairs) -> tuple[Property, ...]:
    return tuple(Property(name, edm) for name, edm in pairs)


# --- ProjectData ---------------------------------------------------------------------------------

PROJECTS = EntitySet(
    name="Projects",
    entity_type="Project",
    key=("ProjectId",),
    properties=_props(
        ("ProjectId", GUID),
        ("ProjectName", STRING),
        ("ProjectDescription", STRING),
        ("ProjectStartDate", DATETIME_V3),
        ("ProjectFinishDate", DATETIME_V3),
        ("ProjectStatusDate", DATETIME_V3),
        ("ProjectOwnerId", GUID),
        ("ProjectOwnerName", STRING),
        ("ProjectAuthorName", STRING),
        ("ProjectPercentCompleted", INT16),
        ("ProjectType", INT32),
        ("EnterpriseProjectTypeName", STRING),
        ("ProjectDuration", DECIMAL),
        ("ProjectWork", DECIMAL),
        ("ProjectCost", DECIMAL),
        ("ProjectCreatedDate", DATETIME_V3),
        ("ProjectModifiedDate", DATETIME_V3),
        ("ProjectLastPublishedDate", DATETIME_V3),
    )  # fmt: skip
    + _custom(data.ENTITY_PROJECT),
)
TASKS = EntitySet(
    name="Tasks",
    entity_type="Task",
    key=("ProjectId", "TaskId"),
    properties=_props(
        ("ProjectId", GUID),
        ("TaskId", GUID),
        ("TaskName", STRING),
        ("ParentTaskId", GUID),
        ("TaskStartDate", DATETIME_V3),
        ("TaskFinishDate", DATETIME_V3),
        ("TaskDuration", DECIMAL),
        ("TaskDurationString", STRING),
        ("TaskPercentCompleted", INT16),
        ("TaskIsMilestone", BOOLEAN),
        ("TaskIsSummary", BOOLEAN),
        ("TaskIsProjectSummary", BOOLEAN),
        ("TaskIsActive", BOOLEAN),
        ("TaskIsManuallyScheduled", BOOLEAN),
        ("TaskOutlineLevel", INT16),
        ("TaskOutlineNumber", STRING),
        ("TaskIndex", INT32),
        ("TaskWBS", STRING),
        ("TaskPriority", INT32),
        ("TaskWork", DECIMAL),
        ("TaskActualWork", DECIMAL),
        ("TaskDeadline", DATETIME_V3),
        ("TaskCreatedDate", DATETIME_V3),
        ("TaskModifiedDate", DATETIME_V3),
    )  # fmt: skip
    + _custom(data.ENTITY_TASK),
)
ASSIGNMENTS = EntitySet(
    name="Assignments",
    entity_type="Assignment",
    key=("AssignmentId", "ProjectId"),
    properties=_props(
        ("AssignmentId", GUID),
        ("ProjectId", GUID),
        ("TaskId", GUID),
        ("ResourceId", GUID),
        ("ResourceName", STRING),
        ("TaskName", STRING),
        ("AssignmentStartDate", DATETIME_V3),
        ("AssignmentFinishDate", DATETIME_V3),
        ("AssignmentWork", DECIMAL),
        ("AssignmentActualWork", DECIMAL),
        ("AssignmentRemainingWork", DECIMAL),
        ("AssignmentPercentWorkCompleted", INT16),
        ("AssignmentCost", DECIMAL),
        ("AssignmentBookingName", STRING),
        ("AssignmentModifiedDate", DATETIME_V3),
    ),  # fmt: skip
)
RESOURCES = EntitySet(
    name="Resources",
    entity_type="Resource",
    key=("ResourceId",),
    properties=_props(
        ("ResourceId", GUID),
        ("ResourceName", STRING),
        ("ResourceEmailAddress", STRING),
        ("ResourceNTAccount", STRING),
        ("ResourceType", INT16),
        ("ResourceIsActive", BOOLEAN),
        ("ResourceIsGeneric", BOOLEAN),
        ("ResourceInitials", STRING),
        ("ResourceGroup", STRING),
        ("ResourceMaxUnits", DECIMAL),
        ("ResourceStandardRate", DECIMAL),
        ("ResourceOvertimeRate", DECIMAL),
        ("ResourceCostPerUse", DECIMAL),
        ("ResourceBaseCalendar", STRING),
        ("ResourceCode", STRING),
        ("ResourceCreatedDate", DATETIME_V3),
        ("ResourceModifiedDate", DATETIME_V3),
    )  # fmt: skip
    + _custom(data.ENTITY_RESOURCE),
)

# --- ProjectServer -------------------------------------------------------------------------------

PS_PROJECTS = EntitySet(
    name="Projects",
    entity_type="PublishedProject",
    key=("Id",),
    properties=_props(
        ("Id", GUID),
        ("Name", STRING),
        ("Description", STRING),
        ("StartDate", DATETIME_V3),
        ("FinishDate", DATETIME_V3),
        ("CreatedDate", DATETIME_V3),
        ("LastPublishedDate", DATETIME_V3),
        ("MinutesPerDay", INT32),
    ),  # fmt: skip
)
PS_TASKS = EntitySet(
    name="Tasks",
    entity_type="PublishedTask",
    key=("Id",),
    properties=_props(
        ("Id", GUID),
        ("Name", STRING),
        ("Notes", STRING),
        ("ConstraintType", INT32),
        ("ConstraintStartEnd", DATETIME_V3),
        ("Deadline", DATETIME_V3),
    ),
)
PS_LINKS = EntitySet(
    name="TaskLinks",
    entity_type="PublishedTaskLink",
    key=("Id",),
    properties=_props(
        ("Id", GUID),
        ("PredecessorTaskId", GUID),
        ("SuccessorTaskId", GUID),
        ("DependencyType", INT32),
        ("LinkLag", INT32),
    ),  # fmt: skip
)
PS_ENTITY_TYPES = EntitySet(
    name="EntityTypes", entity_type="EntityType", key=("ID",),
    properties=_props(("ID", GUID), ("Name", STRING)),
)  # fmt: skip
PS_LOOKUP_ENTRIES = EntitySet(
    name="LookupEntries",
    entity_type="LookupEntry",
    key=("Id",),
    properties=_props(
        ("Id", GUID), ("FullValue", STRING), ("Description", STRING), ("SortIndex", DECIMAL)
    ),
)
PS_LOOKUP_TABLES = EntitySet(
    name="LookupTables",
    entity_type="LookupTable",
    key=("Id",),
    properties=_props(("Id", GUID), ("Name", STRING), ("FieldType", INT32)),
    navigations=(Navigation("Entries", "LookupEntries", "Id", "_table", collection=True),),
)
PS_CUSTOM_FIELDS = EntitySet(
    name="CustomFields",
    entity_type="CustomField",
    key=("Id",),
    properties=_props(
        ("Id", GUID),
        ("Name", STRING),
        ("InternalName", STRING),
        ("FieldType", INT32),
        ("Formula", STRING),
        ("Description", STRING),
        ("IsRequired", BOOLEAN),
        ("IsMultilineText", BOOLEAN),
        ("LookupAllowMultiSelect", BOOLEAN),
    ),  # fmt: skip
    navigations=(
        Navigation("EntityType", "EntityTypes", "_entity_type_id", "ID"),
        Navigation("LookupTable", "LookupTables", "_lookup_table_id", "Id"),
    ),
)


class FeedDialect(ProjectDataDialect):
    """ProjectData's dialect with the page sizes the emulator's config sets."""

    def __init__(self, page_sizes):
        self.sizes = page_sizes

    def plan(self, entity_set: EntitySet, top: int | None, prefer: dict[str, str]) -> PagePlan:
        size = self.sizes().get(entity_set.name, self.page_size)
        return PagePlan(size=int(size), paged=True, top=top, applied=[])


class ProjectServerDialect(ProjectDataDialect):
    """SharePoint's REST (the CSOM objects) in the same JSON light: one page holds all."""

    namespace = "PS"
    container = "PS"
    page_size = 1_000_000
    page_sizes = {}


class ProjectOnlineEmulator(Emulator):
    name = "project-online"
    title = "Project Online"
    # SharePoint Online publishes no fixed figure (it throttles on a moving resource budget):
    # a generous default that tests and benchmarks lower through the control plane.
    default_limit = RateLimit(limit=3000, window=60)
    api_prefixes = (f"{API}/",)

    def __init__(self, *, azure=None, **kwargs):
        self.azure = azure
        self.feed = Service(
            FeedDialect(self._page_sizes),
            [PROJECTS, TASKS, ASSIGNMENTS, RESOURCES],
            root=lambda: f"{self.base}{API}/ProjectData",
        )
        self.server = Service(
            ProjectServerDialect(),
            [PS_PROJECTS, PS_CUSTOM_FIELDS, PS_LOOKUP_TABLES, PS_LOOKUP_ENTRIES, PS_ENTITY_TYPES],
            root=lambda: f"{self.base}{API}/ProjectServer",
        )
        super().__init__(**kwargs)

    def _page_sizes(self) -> dict:
        return {**DEFAULT_PAGE_SIZES, **self.config.get("page_sizes", {})}

    def initial_state(self, seed: int) -> dict:
        seeded = data.seeded(seed)
        tables, entries = data.lookup_tables()
        return {
            **super().initial_state(seed),
            "Projects": seeded["projects"],
            "Tasks": seeded["tasks"],
            "Assignments": seeded["assignments"],
            "Resources": seeded["resources"],
            "TaskLinks": seeded["links"],
            "CustomFields": data.custom_fields(),
            "LookupTables": tables,
            "LookupEntries": entries,
            "EntityTypes": data.entity_types(),
        }

    @property
    def base(self) -> str:
        return self.config.get("base_url", "https://127.0.0.1")

    # --- auth and errors ------------------------------------------------------------------------

    def _token(self, request: Request) -> dict | None:
        """A live Azure AD token whose audience is this SharePoint host."""
        if self.azure is None:
            return None
        info, _ = self.azure.token_info(bearer_token(request))
        if info is None or info["audience"].rstrip("/") != self.base.rstrip("/"):
            return None
        return info

    def caller(self, request: Request) -> Caller | None:
        info = self._token(request)
        if info is not None:
            return Caller(key=info["client_id"])
        token = bearer_token(request)
        return Caller(key=hashlib.sha256(token.encode()).hexdigest()[:16]) if token else None

    def unauthorized(self, request: Request) -> Response:
        tenant = next(iter(self.azure.state["tenants"]), "common") if self.azure else "common"
        authority = self.azure.base if self.azure else "https://login.microsoftonline.com"
        headers = {
            "WWW-Authenticate": (
                f'Bearer realm="{tenant}",client_id="{SHAREPOINT_PRINCIPAL}",'
                f'trusted_issuers="00000001-0000-0000-c000-000000000000@*",'
                f'authorization_uri="{authority}/common/oauth2/authorize"'
            ),
            "x-ms-diagnostics": '3000006;reason="Token contains invalid signature.";category="invalid_client"',
        }
        if not bearer_token(request):
            return json_error(
                self.sharepoint_error(
                    ACCESS_DENIED,
                    "Access denied. You do not have permission to perform this action or access this resource.",
                ),
                401,
                headers,
            )
        return json_error({"error_description": "Invalid issuer or signature."}, 401, headers)

    @staticmethod
    def sharepoint_error(code: str, message: str) -> dict:
        return {"odata.error": {"code": code, "message": {"lang": "en-US", "value": message}}}

    def _throttled(self, retry_after: float) -> Response:
        status = int(self.config.get("throttle_status", 429))
        seconds = self.config.get("retry_after")
        seconds = max(1, round(float(seconds if seconds is not None else retry_after)))
        message = (
            "The request has been throttled."
            if status == 429
            else "The server is busy. Please try again later."
        )
        return json_error(
            self.sharepoint_error(
                f"-2147024860, Microsoft.SharePoint.SPRequestThrottled{status}", message
            ),
            status,
            {"Retry-After": str(seconds)},
        )

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        return self._throttled(retry_after)

    def storm_response(self, request: Request, retry_after: float | None) -> Response:
        return self._throttled(retry_after if retry_after is not None else 5)

    def error_response(self, request: Request, status: int, code: int | None = None) -> Response:
        headers = (
            {"Retry-After": str(self.config.get("retry_after") or 5)} if status == 503 else None
        )
        return json_error(
            self.sharepoint_error(
                "-2146232832, Microsoft.SharePoint.SPException", "An unexpected error occurred."
            ),
            status,
            headers,
        )

    def route_error(self, request: Request, status: int, allowed: list[str]) -> Response:
        path = request.url.path
        if path.startswith(f"{API}/") and self._token(request) is None:
            return self.unauthorized(request)
        if status == 405:
            return json_error(
                self.sharepoint_error(
                    "-1, Microsoft.SharePoint.Client.InvalidClientQueryException",
                    f"The HTTP method '{request.method}' cannot be used on this resource.",
                ),
                405,
            )
        return self._not_found(path)

    def _not_found(self, path: str) -> Response:
        rest = path.removeprefix(f"{API}/")
        if rest.startswith("ProjectData/"):
            segment = rest.removeprefix("ProjectData/").split("/")[0].split("(")[0]
            return json_error(
                self.sharepoint_error("", f"Resource not found for the segment '{segment}'."), 404
            )
        return json_error(
            self.sharepoint_error(
                "-1, Microsoft.SharePoint.Client.InvalidClientQueryException",
                f'The expression "{rest}" is not valid.',
            ),
            404,
        )

    # --- routes ---------------------------------------------------------------------------------

    def api_routes(self) -> list[Route]:
        feed, server = f"{API}/ProjectData", f"{API}/ProjectServer"
        return [
            Route(f"{feed}/$metadata", self.metadata, methods=["GET"]),
            Route(f"{feed}/{{name}}", self.feed_collection, methods=["GET"]),
            Route(f"{server}/Projects", self.ps_projects, methods=["GET"]),
            Route(f"{server}/Projects('{{project}}')", self.ps_project, methods=["GET"]),
            Route(f"{server}/Projects('{{project}}')/Tasks", self.ps_tasks, methods=["GET"]),
            Route(f"{server}/Projects('{{project}}')/TaskLinks", self.ps_links, methods=["GET"]),
            Route(f"{server}/CustomFields", self.ps_custom_fields, methods=["GET"]),
            Route(f"{server}/LookupTables", self.ps_lookup_tables, methods=["GET"]),
        ]

    def control_routes(self) -> list[Route]:
        return [
            *super().control_routes(),
            Route("/_sandbox/project-online/generate", self._cp_generate, methods=["POST"]),
            Route("/_sandbox/project-online/projects", self._cp_projects, methods=["GET"]),
        ]

    def _served(self, request: Request, answer) -> Response:
        if self._token(request) is None:
            return self.unauthorized(request)
        try:
            result: Answer = answer()
        except ODataError as error:
            return json_error(self.feed.dialect.error_body(error), error.status)
        body = result.body
        if "odata=verbose" in request.headers.get("accept", ""):
            verbose = {"results": body.get("value", [])}
            if "odata.nextLink" in body:
                verbose["__next"] = body["odata.nextLink"]
            if "value" not in body:
                verbose = {k: v for k, v in body.items() if not k.startswith("odata.")}
            return JSONResponse({"d": verbose}, headers=result.headers)
        return JSONResponse(body, headers=result.headers, media_type=ODATA_JSON)

    async def metadata(self, request: Request) -> Response:
        if self._token(request) is None:
            return self.unauthorized(request)
        return Response(
            self.feed.metadata(),
            headers={"DataServiceVersion": "3.0;"},
            media_type="application/xml;charset=utf-8",
        )

    async def feed_collection(self, request: Request) -> Response:
        name = request.path_params["name"]
        set_name, _, key = name.partition("(")
        if set_name not in self.feed.sets:
            if self._token(request) is None:
                return self.unauthorized(request)
            return self._not_found(request.url.path)
        if key:

            def answer():
                entity_set = self.feed.sets[set_name]
                if not key.endswith(")"):
                    raise ODataError("Bad Request - Error in query syntax.")
                values = parse_key(key[:-1], entity_set, self.feed.dialect)
                return self.feed.entity(set_name, self.state, values, query=request.url.query)

            return self._served(request, answer)
        return self._served(
            request,
            lambda: self.feed.collection(set_name, self.state, query=request.url.query),
        )

    def _project(self, request: Request) -> dict | None:
        wanted = request.path_params["project"].lower()
        return next((p for p in self.state["Projects"] if p["ProjectId"] == wanted), None)

    def _project_missing(self, request: Request) -> Response:
        if self._token(request) is None:
            return self.unauthorized(request)
        project = request.path_params["project"]
        if not GUID_PATTERN.fullmatch(project):
            return json_error(
                self.sharepoint_error(
                    "-1, Microsoft.SharePoint.Client.InvalidClientQueryException",
                    "The expression is not valid. Bad Request.",
                ),
                400,
            )
        return json_error(
            self.sharepoint_error(
                "-1, Microsoft.SharePoint.Client.ResourceNotFoundException",
                f"Cannot find resource for the request Projects('{project}').",
            ),
            404,
        )

    async def ps_projects(self, request: Request) -> Response:
        return self._served(
            request, lambda: self.server.collection("Projects", self.state, query=request.url.query)
        )

    async def ps_project(self, request: Request) -> Response:
        project = self._project(request)
        if project is None:
            return self._project_missing(request)
        return self._served(
            request,
            lambda: self.server.entity(
                "Projects", self.state, (project["Id"],), query=request.url.query
            ),
        )

    def _in_project(self, request: Request, entity_set: EntitySet, rows: list[dict]) -> Response:
        project = self._project(request)
        if project is None:
            return self._project_missing(request)
        root = f"{self.base}{API}/ProjectServer/Projects('{project['Id']}')"
        service = Service(ProjectServerDialect(), [entity_set], root=lambda: root)
        return self._served(
            request,
            lambda: service.collection(
                entity_set.name, {entity_set.name: rows(project)}, query=request.url.query
            ),
        )

    async def ps_tasks(self, request: Request) -> Response:
        def rows(project):
            return [
                t
                for t in self.state["Tasks"]
                if t["ProjectId"] == project["Id"] and not t["TaskIsProjectSummary"]
            ]

        return self._in_project(request, PS_TASKS, rows)

    async def ps_links(self, request: Request) -> Response:
        def rows(project):
            return [link for link in self.state["TaskLinks"] if link["_project"] == project["Id"]]

        return self._in_project(request, PS_LINKS, rows)

    async def ps_custom_fields(self, request: Request) -> Response:
        return self._served(
            request,
            lambda: self.server.collection("CustomFields", self.state, query=request.url.query),
        )

    async def ps_lookup_tables(self, request: Request) -> Response:
        return self._served(
            request,
            lambda: self.server.collection("LookupTables", self.state, query=request.url.query),
        )

    # --- control plane --------------------------------------------------------------------------

    async def _cp_generate(self, request: Request) -> Response:
        body = await self._body(request)
        try:
            generated = data.generate(
                seed=int(body.get("seed", self.seed)),
                name=str(body.get("name") or "Generated Project"),
                tasks=int(body.get("tasks", 500)),
                depth=int(body.get("depth", 4)),
                resources=int(body.get("resources", 20)),
                assignments=int(body.get("assignments", 600)),
                links=int(body.get("links", 300)),
            )
        except (TypeError, ValueError) as error:
            return json_error({"error": str(error)}, 400)
        project_id = generated["project"]["ProjectId"]
        if any(p["ProjectId"] == project_id for p in self.state["Projects"]):
            return json_error(
                {"error": "this project was generated already (same seed and name)"}, 409
            )
        self.state["Projects"].append(generated["project"])
        self.state["Tasks"].extend(generated["tasks"])
        self.state["Assignments"].extend(generated["assignments"])
        self.state["TaskLinks"].extend(generated["links"])
        self.state["Resources"].extend(generated["resources"])
        self.dirty = True
        return JSONResponse({"project_id": project_id, **self._counts(project_id)})

    def _counts(self, project_id: str) -> dict:
        tasks = [
            t
            for t in self.state["Tasks"]
            if t["ProjectId"] == project_id and not t["TaskIsProjectSummary"]
        ]
        assignments = [a for a in self.state["Assignments"] if a["ProjectId"] == project_id]
        return {
            "tasks": len(tasks),
            "depth": max((t["TaskOutlineLevel"] for t in tasks), default=0),
            "summary_tasks": sum(1 for t in tasks if t["TaskIsSummary"]),
            "milestones": sum(1 for t in tasks if t["TaskIsMilestone"]),
            "assignments": len(assignments),
            "resources": len({a["ResourceId"] for a in assignments}),
            "links": sum(1 for link in self.state["TaskLinks"] if link["_project"] == project_id),
        }

    async def _cp_projects(self, request: Request) -> Response:
        return JSONResponse(
            {
                "projects": [
                    {"id": p["ProjectId"], "name": p["ProjectName"], **self._counts(p["ProjectId"])}
                    for p in self.state["Projects"]
                ],
                "resources": len(self.state["Resources"]),
            }
        )

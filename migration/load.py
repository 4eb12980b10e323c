"""The load: a `Plan` written into Smartsheet through the official SDK (the provider module
integrations.connections.providers.smartsheet), on the sync engine's links and write intents.

Order of work, per load:
1. PMO Standards: its Smartsheet workspace and reference sheets ("Task - Status", ...) are
   created, or read to verify them: values already there are kept, the plan's missing ones are
   added. Their values become the picklist options of every column that sources from them
   (ColumnPlan.source "PMO Standards/<sheet>"); `refresh_pmo_picklists` copies them again later.
2. Per project: its Smartsheet workspace; the Tasks sheet made from the project-sheet template
   (settings.MIGRATION_TASKS_TEMPLATE_ID: dependencies enabled, so it has the Duration and
   Predecessors columns the API cannot make), its template columns renamed / moved to the plan's
   titles and order and the rest added (one call per run of new columns: Smartsheet takes one
   common index per add-columns call); Resources and Summary sheets with their columns in the
   create call.
3. Rows, parents before children: Add Rows takes 500 rows, all at one location (the top level,
   or under one parent: error 1123 refuses mixed parentIds; "To indent or outdent several rows,
   use parentId", SPEC-SS "Specify Row Location"), so the floor is one call per 500 rows of
   each parent location. Each sheet is written strictly serially (4004).
4. Predecessors, once every row has an id: PREDECESSOR_LIST objectValues, 500 rows per update.

Idempotence: every workspace, sheet, column and row made is recorded (migration.links); a
re-run finds them and updates only cells whose written value changed. Crash safety: before
each create a `LoadIntent` is committed; the create's answer and the links are committed
together. A run killed in between leaves intents, which the next run reconciles
(integrations.sync.models.reconcile) against what Smartsheet lists: a workspace or sheet of
that name in that place, rows with that parent and those cells, no link owning them, are
adopted instead of made again.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.connections import http, services
from integrations.connections.providers import smartsheet
from integrations.sync.models import (
    Held,
    digest,
    held_rows,
    insert_many,
    reconcile,
    row_target,
    update_many,
)
from migration.links import ContainerLink, LoadIntent, RowLink
from migration.model import ColumnPlan, Issue, Plan, PmoSheetPlan, SheetPlan, WorkspacePlan

ROWS = smartsheet.ROWS_PER_REQUEST
PMO_SOURCE = "PMO Standards/"
PMO_VALUE_COLUMN = "Value"
STAGES = ("workspace", "sheets", "rows", "predecessors")
# Cells whose value reads back as written (text, numbers, picks): what a row's fingerprint, the
# digest a row intent is matched by, is made of. Dates, contacts and objects read back in
# other shapes.
FINGERPRINTED = ("TEXT_NUMBER", "PICKLIST")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
CELL_MAX = 4000
INTENT_FIELDS = (
    "workspace",
    "connection",
    "sheet",
    "operation",
    "key",
    "target",
    "payload_hash",
    "batch",
    "position",
    "created_at",
)
LINK_FIELDS = (
    "workspace",
    "sheet",
    "key",
    "row_id",
    "parent_row_id",
    "remote_version",
    "content_hash",
    "synced_values",
    "synced_at",
    "predecessors_hash",
)
# Errors that end the load (the rest would fail the same way); others fail one project.
STOP = (http.Unauthorized, http.RateLimited)

Progress = Callable[[str, str, int, int], None]


@dataclass
class ProjectLoad:
    """What the load did for one project."""

    project_id: str
    name: str
    sheet_workspace_id: int | None = None
    permalink: str = ""
    sheet_ids: dict[str, int] = field(default_factory=dict)
    rows_created: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_adopted: int = 0  # recovered from an interrupted run
    predecessors_written: int = 0
    calls: int = 0
    issues: list[Issue] = field(default_factory=list)


@dataclass
class PmoLoad:
    sheet_workspace_id: int | None = None
    sheet_ids: dict[str, int] = field(default_factory=dict)
    values: dict[str, list[str]] = field(default_factory=dict)  # sheet name -> its values now
    created: list[str] = field(default_factory=list)  # the reference sheets made this run
    values_added: int = 0
    calls: int = 0


@dataclass
class LoadResult:
    projects: list[ProjectLoad]
    pmo: PmoLoad
    issues: list[Issue]

    @property
    def calls(self) -> int:
        return self.pmo.calls + sum(p.calls for p in self.projects)


@dataclass
class RefreshResult:
    columns_updated: int = 0
    sheets: int = 0
    calls: int = 0


def load_plan(
    plan: Plan, *, connection, hub_workspace, progress: Progress | None = None
) -> LoadResult:
    """Write `plan` into Smartsheet with `connection` (a Smartsheet connection of
    `hub_workspace`, the hub's tenant the records belong to)."""
    loader = Loader(connection, hub_workspace, progress)
    pmo = loader.pmo(plan.pmo)
    projects = [loader.project(workspace) for workspace in plan.workspaces]
    issues = [issue for project in projects for issue in project.issues]
    return LoadResult(projects=projects, pmo=pmo, issues=issues)


def refresh_pmo_picklists(*, connection, hub_workspace) -> RefreshResult:
    """Copy the PMO Standards sheets' values (as people keep them in Smartsheet) into the
    options of every migrated column that sources from them."""
    loader = Loader(connection, hub_workspace, None)
    result = RefreshResult()
    values = {}
    for link in ContainerLink.objects.filter(
        connection=connection, kind=ContainerLink.Kind.SHEET, key__startswith="pmo/"
    ):
        values[link.key.removeprefix("pmo/")] = loader.sheet_values(link)
    for link in ContainerLink.objects.filter(
        connection=connection, kind=ContainerLink.Kind.SHEET, key__startswith="project:"
    ).order_by("pk"):
        if link.synced_values.get("sources"):
            result.sheets += 1
            result.columns_updated += loader.copy_picklists(link, values)
    result.calls = loader.calls
    return result


def fingerprint(values: dict[str, Any], types: dict[str, str]) -> str:
    """The digest a row intent carries: its text and number cells, normalised so that the
    values sent and the values Smartsheet lists again give the same digest."""
    kept = {}
    for key, value in values.items():
        if types.get(key) not in FINGERPRINTED or value is None or isinstance(value, dict):
            continue
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, int | float) or (isinstance(value, str) and NUMBER.match(value)):
            value = format(float(value), ".12g")
        else:
            value = str(value)[:CELL_MAX]
        if value != "":
            kept[key] = value
    return digest(kept)


def lag_duration(lag_minutes: float, unit: str, hours_per_day: float) -> dict | None:
    """A link's lag (working minutes, negative for a lead) as Smartsheet's DURATION object in
    the unit the source showed it in.
    # Reference: SPEC-SS Duration {objectType DURATION, negative ("When used as a predecessor's
    # lag value, indicates whether the lag is negative"), weeks, days, hours, minutes, elapsed};
    # Predecessor.lag; the SDK's models/duration.py."""
    if not lag_minutes:
        return None
    minutes = abs(lag_minutes)
    unit = (unit or "d").lower()
    elapsed = unit.startswith("e")
    unit = unit.removeprefix("e")[:1] or "d"
    if unit == "m":
        amount, key = minutes, "minutes"
    elif unit == "h":
        amount, key = minutes / 60, "hours"
    elif unit == "w":
        amount, key = minutes / 60 / hours_per_day / 5, "weeks"
    else:
        amount, key = minutes / 60 / hours_per_day, "days"
    duration = {"objectType": "DURATION", key: round(amount, 4)}
    if lag_minutes < 0:
        duration["negative"] = True
    if elapsed:
        duration["elapsed"] = True
    return duration


class Loader:
    """One load's work: the connection's SDK client, its calls counted, progress reported."""

    def __init__(self, connection, hub_workspace, progress: Progress | None):
        self.connection = connection
        self.hub_workspace = hub_workspace
        self.client = services.client(connection)
        self.progress = progress or (lambda project_id, stage, done, total: None)
        self.calls = 0
        self.pmo_values: dict[str, list[str]] = {}

    def call(self, function, **kwargs):
        self.calls += 1
        return self.client.call(lambda c: function(c.sdk, **kwargs))

    # --- workspaces and sheets: made once, found again, adopted after a crash --------------

    def container(
        self,
        key: str,
        kind: str,
        name: str,
        *,
        parent: ContainerLink | None,
        create: Callable[[], tuple[smartsheet.Container, dict]],
    ) -> tuple[ContainerLink, bool]:
        """The link of `key`, made by `create()` (which answers the container and its column
        ids) unless a link exists or an interrupted run's create is found. Returns (link,
        made now)."""
        link = ContainerLink.objects.filter(connection=self.connection, key=key).first()
        if link is not None:
            return link, False
        target = "" if parent is None else str(parent.remote_id)
        payload = digest({"name": name})
        leftover = list(LoadIntent.objects.filter(connection=self.connection, key=key))
        if leftover:
            link = self._adopt_container(key, kind, name, parent, leftover, payload)
            if link is not None:
                return link, False
        intent = LoadIntent.objects.create(
            workspace=self.hub_workspace,
            connection=self.connection,
            operation=kind,
            target=target,
            payload_hash=payload,
            batch=str(uuid.uuid4()),
            key=key,
        )
        try:
            made, columns = create()
        except http.Permanent:
            intent.delete()  # refused: nothing was made
            raise
        with transaction.atomic():
            link = ContainerLink.objects.create(
                workspace=self.hub_workspace,
                connection=self.connection,
                key=key,
                kind=kind,
                remote_id=made.id,
                name=made.name,
                permalink=made.permalink,
                columns=columns,
                content_hash=payload,
            )
            intent.delete()
        return link, True

    def _adopt_container(self, key, kind, name, parent, intents, payload) -> ContainerLink | None:
        if kind == ContainerLink.Kind.WORKSPACE:
            listed = self.call(smartsheet.list_workspaces)
        else:
            listed = self.call(smartsheet.workspace_sheets, workspace_id=parent.remote_id)
        owned = set(
            ContainerLink.objects.filter(connection=self.connection, kind=kind).values_list(
                "remote_id", flat=True
            )
        )
        target = "" if parent is None else str(parent.remote_id)
        by_id = {item.id: item for item in listed}
        held = [
            Held(item.id, target, digest({"name": item.name}))
            for item in listed
            if item.id not in owned
        ]
        adopted = reconcile(intents, held).adopt
        with transaction.atomic():
            LoadIntent.objects.filter(pk__in=[i.pk for i in intents]).delete()
            if not adopted:
                return None
            item = by_id[adopted[0][1].remote_id]
            return ContainerLink.objects.create(
                workspace=self.hub_workspace,
                connection=self.connection,
                key=key,
                kind=kind,
                remote_id=item.id,
                name=item.name,
                permalink=item.permalink,
                columns={},  # a sheet's columns are read again by its caller
                content_hash=payload,
            )

    # --- PMO Standards ------------------------------------------------------------------------

    def pmo(self, sheets: list[PmoSheetPlan]) -> PmoLoad:
        result = PmoLoad()
        if not sheets:
            return result
        before = self.calls
        name = settings.MIGRATION_PMO_WORKSPACE
        workspace, _ = self.container(
            "pmo",
            ContainerLink.Kind.WORKSPACE,
            name,
            parent=None,
            create=lambda: (self.call(smartsheet.create_workspace, name=name), {}),
        )
        result.sheet_workspace_id = workspace.remote_id
        for plan in sheets:
            title = plan.name[:50]
            link, made = self.container(
                f"pmo/{plan.name}",
                ContainerLink.Kind.SHEET,
                title,
                parent=workspace,
                create=lambda title=title: self._create_sheet(
                    workspace.remote_id,
                    title,
                    [
                        ColumnPlan(
                            key="value", title=PMO_VALUE_COLUMN, type="TEXT_NUMBER", primary=True
                        )
                    ],
                ),
            )
            result.sheet_ids[plan.name] = link.remote_id
            # Verified: what the sheet holds now (people add values there) is kept; a sheet
            # made this run holds nothing yet, and is not read.
            existing = [] if made else self.sheet_values(link)
            if made:
                result.created.append(plan.name)
            missing = [v for v in dict.fromkeys(plan.values) if v not in set(existing)]
            if missing:
                column = self._pmo_column(link)
                for start in range(0, len(missing), ROWS):
                    chunk = missing[start : start + ROWS]
                    self.call(
                        smartsheet.add_rows,
                        sheet_id=link.remote_id,
                        cells=[[{"columnId": column, "value": value}] for value in chunk],
                        parent_id=None,
                    )
                result.values_added += len(missing)
            result.values[plan.name] = [*existing, *missing]
        self.pmo_values = result.values
        result.calls = self.calls - before
        return result

    def _pmo_column(self, link: ContainerLink) -> int:
        if "value" not in link.columns:
            sheet = self.call(smartsheet.get_sheet, sheet_id=link.remote_id, page_size=1)
            link.columns = {"value": next(c.id for c in sheet.columns if c.primary)}
            link.save(update_fields=["columns"])
        return int(link.columns["value"])

    def sheet_values(self, link: ContainerLink) -> list[str]:
        """A reference sheet's values: its primary column, in sheet order, blanks skipped."""
        sheet = self.call(smartsheet.get_sheet, sheet_id=link.remote_id)
        primary = next(c.id for c in sheet.columns if c.primary)
        if link.columns.get("value") != primary:
            link.columns = {"value": primary}
            link.save(update_fields=["columns"])
        values = []
        for row in sheet.rows:
            for cell in row.cells:
                if cell["columnId"] == primary and cell["value"] not in (None, ""):
                    values.append(str(cell["value"]))
        return list(dict.fromkeys(values))

    def options(self, column: ColumnPlan) -> list[str] | None:
        """A dropdown's options: its PMO Standards sheet's values where it sources from one."""
        if column.source and column.source.startswith(PMO_SOURCE):
            values = self.pmo_values.get(column.source.removeprefix(PMO_SOURCE))
            if values is not None:
                return values
        return column.options

    def copy_picklists(self, link: ContainerLink, values: dict[str, list[str]]) -> int:
        """Set each PMO-sourced column's options to its sheet's values where they differ."""
        sources = link.synced_values.get("sources", {})
        kept = dict(link.synced_values.get("options", {}))
        types = link.synced_values.get("types", {})
        changed = 0
        for key, source in sources.items():
            wanted = values.get(source)
            column_id = link.columns.get(key)
            if wanted is None or column_id is None or kept.get(key) == wanted:
                continue
            self.call(
                smartsheet.update_column,
                sheet_id=link.remote_id,
                column_id=int(column_id),
                changes={"type": types.get(key, "PICKLIST"), "options": wanted},
            )
            kept[key] = wanted
            changed += 1
        if changed:
            link.synced_values = {**link.synced_values, "options": kept}
            link.save(update_fields=["synced_values"])
        return changed

    # --- a project ------------------------------------------------------------------------------

    def project(self, plan: WorkspacePlan) -> ProjectLoad:
        result = ProjectLoad(project_id=plan.project_id, name=plan.name)
        before = self.calls
        try:
            self._project(plan, result)
        except STOP:
            raise
        except http.ProviderError as exc:
            result.issues.append(
                Issue(
                    "error",
                    "load",
                    "Workspace",
                    plan.project_id,
                    "",
                    "load.refused",
                    plan.name[:200],
                    exc.message,
                )
            )
        result.calls = self.calls - before
        return result

    def _project(self, plan: WorkspacePlan, result: ProjectLoad) -> None:
        project_id = plan.project_id
        self.progress(project_id, "workspace", 0, 1)
        workspace, _ = self.container(
            f"project:{project_id}",
            ContainerLink.Kind.WORKSPACE,
            plan.name,
            parent=None,
            create=lambda: (self.call(smartsheet.create_workspace, name=plan.name), {}),
        )
        result.sheet_workspace_id, result.permalink = workspace.remote_id, workspace.permalink
        self.progress(project_id, "workspace", 1, 1)

        links: dict[str, ContainerLink] = {}
        self.progress(project_id, "sheets", 0, len(plan.sheets))
        for done, sheet in enumerate(plan.sheets, start=1):
            links[sheet.key] = self.sheet(plan, sheet, workspace, result)
            result.sheet_ids[sheet.key] = links[sheet.key].remote_id
            self.progress(project_id, "sheets", done, len(plan.sheets))

        total = sum(len(sheet.rows) for sheet in plan.sheets)
        counter = {"done": 0}

        def advance(count: int) -> None:
            counter["done"] += count
            self.progress(project_id, "rows", counter["done"], total)

        linked = sum(len(sheet.predecessors) for sheet in plan.sheets)
        counted = {"done": 0}

        def advance_predecessors(count: int) -> None:
            counted["done"] += count
            self.progress(project_id, "predecessors", counted["done"], linked)

        self.progress(project_id, "rows", 0, total)
        for sheet in plan.sheets:
            rows = Rows(self, links[sheet.key], sheet, result, advance)
            rows.write(advance_predecessors)
        self.progress(project_id, "predecessors", counted["done"], linked)

    def sheet(
        self, plan: WorkspacePlan, sheet: SheetPlan, workspace: ContainerLink, result: ProjectLoad
    ) -> ContainerLink:
        key = f"project:{plan.project_id}/{sheet.key}"
        from_template = any(column.from_template for column in sheet.columns)
        template = settings.MIGRATION_TASKS_TEMPLATE_ID
        if from_template and not template:
            raise http.Permanent(
                "MIGRATION_TASKS_TEMPLATE_ID names no project-sheet template", provider="smartsheet"
            )
        if from_template:

            def create():
                made = self.call(
                    smartsheet.create_sheet_from,
                    workspace_id=workspace.remote_id,
                    name=sheet.name,
                    template_id=template,
                )
                return made, {}

        else:

            def create():
                return self._create_sheet(workspace.remote_id, sheet.name, sheet.columns)

        link, _ = self.container(
            key, ContainerLink.Kind.SHEET, sheet.name, parent=workspace, create=create
        )
        self.columns(link, sheet, result)
        self.copy_picklists(link, self.pmo_values)
        return link

    def _create_sheet(
        self, workspace_id: int, name: str, columns: list[ColumnPlan]
    ) -> tuple[smartsheet.Container, dict]:
        made, answered = self.call(
            smartsheet.create_sheet,
            workspace_id=workspace_id,
            name=name,
            columns=[self.column_body(column, primary=True) for column in columns],
        )
        by_title = {c.title: c.id for c in answered}
        return made, {c.key: by_title[c.title] for c in columns if c.title in by_title}

    def column_body(self, column: ColumnPlan, *, primary: bool = False) -> dict:
        """The column as Smartsheet's Column object (camelCase)."""
        body: dict[str, Any] = {"title": column.title, "type": column.type}
        if primary and column.primary:
            body["primary"] = True
        options = self.options(column)
        if options and column.type in ("PICKLIST", "MULTI_PICKLIST"):
            body["options"] = list(options)
        if column.system_column_type:
            body["systemColumnType"] = column.system_column_type
        if column.auto_number_format and column.system_column_type == "AUTO_NUMBER":
            body["autoNumberFormat"] = column.auto_number_format
        if column.width:
            body["width"] = column.width
        if column.hidden:
            body["hidden"] = True
        if column.locked:
            body["locked"] = True
        if column.format:
            body["format"] = column.format
        if column.contact_options and column.type == "CONTACT_LIST":
            body["contactOptions"] = column.contact_options
        return body

    def columns(self, link: ContainerLink, sheet: SheetPlan, result: ProjectLoad) -> None:
        """Bring the sheet's columns to the plan's: template columns renamed and moved into
        place, the others added (one call per run of adjacent new columns), ids recorded."""
        ids = {key: int(value) for key, value in link.columns.items()}
        plan_keys = [column.key for column in sheet.columns]
        if all(key in ids for key in plan_keys):
            self._remember(link, sheet, ids)
            return
        current = self.call(smartsheet.get_sheet, sheet_id=link.remote_id, page_size=1).columns
        order = [column.id for column in current]
        by_id = {column.id: column for column in current}
        known = set(ids.values())
        unused = [c for c in current if c.id not in known]
        for column in sheet.columns:  # first by title: a sheet made before, or adopted
            match = next((c for c in unused if c.title == column.title), None)
            if column.key not in ids and match is not None:
                unused.remove(match)
                ids[column.key] = match.id
        for column in sheet.columns:
            if column.key in ids or not column.from_template:
                continue
            match = self._template_match(column, unused)
            if match is None:
                result.issues.append(
                    Issue(
                        "warning",
                        "load",
                        "Column",
                        column.key,
                        "type",
                        "column.not_in_template",
                        column.type,
                        f"The project-sheet template has no {column.type} column for {column.title!r}: added as a new column.",
                    )
                )
                continue
            unused.remove(match)
            ids[column.key] = match.id
        position = 0
        pending: list[ColumnPlan] = []

        def flush() -> None:
            nonlocal position
            if not pending:
                return
            index = position - len(pending)
            made = self.call(
                smartsheet.add_columns,
                sheet_id=link.remote_id,
                columns=[self.column_body(c) for c in pending],
                index=index,
            )
            for column, answered in zip(pending, made, strict=True):
                ids[column.key] = answered.id
                order.insert(index + pending.index(column), answered.id)
            pending.clear()

        for column in sheet.columns:
            if column.key not in ids:
                if column.type in ("DURATION", "PREDECESSOR", "ABSTRACT_DATETIME"):
                    result.issues.append(
                        Issue(
                            "error",
                            "load",
                            "Column",
                            column.key,
                            "type",
                            "column.project_type",
                            column.type,
                            f"{column.title!r}: Smartsheet makes {column.type} columns only in a sheet with dependencies (the project-sheet template).",
                        )
                    )
                    continue
                pending.append(column)
                position += 1
                continue
            flush()
            column_id = ids[column.key]
            existing = by_id.get(column_id)
            if existing is not None and (
                order.index(column_id) != position or existing.title != column.title
            ):
                changes: dict[str, Any] = {"index": position}
                if existing.title != column.title:
                    changes["title"] = column.title
                self.call(
                    smartsheet.update_column,
                    sheet_id=link.remote_id,
                    column_id=column_id,
                    changes=changes,
                )
                order.remove(column_id)
                order.insert(position, column_id)
            position += 1
        flush()
        self._remember(link, sheet, ids)

    @staticmethod
    def _template_match(column: ColumnPlan, unused: list) -> Any:
        """The template column a plan column takes: the primary for the primary; else one of
        the same title, else the first of the same type (a date takes a project date)."""
        if column.primary:
            return next((c for c in unused if c.primary), None)
        for test in (
            lambda c: c.title == column.title,
            lambda c: c.type == column.type,
            lambda c: column.type in ("DATE", "DATETIME") and c.type == "ABSTRACT_DATETIME",
        ):
            found = next((c for c in unused if not c.primary and test(c)), None)
            if found is not None:
                return found
        return None

    def _remember(self, link: ContainerLink, sheet: SheetPlan, ids: dict[str, int]) -> None:
        sources = {
            c.key: c.source.removeprefix(PMO_SOURCE)
            for c in sheet.columns
            if c.source
            and c.source.startswith(PMO_SOURCE)
            and c.type in ("PICKLIST", "MULTI_PICKLIST")
        }
        values = dict(link.synced_values)
        values["types"] = {c.key: c.type for c in sheet.columns}
        values["sources"] = sources
        if "options" not in values:  # what the create call set
            values["options"] = {
                key: self.options(c) for c in sheet.columns if (key := c.key) in sources
            }
        if link.columns != ids or link.synced_values != values:
            link.columns = ids
            link.synced_values = values
            link.save(update_fields=["columns", "synced_values"])


class Rows:
    """One sheet's rows and predecessors."""

    def __init__(
        self,
        loader: Loader,
        link: ContainerLink,
        sheet: SheetPlan,
        result: ProjectLoad,
        advance,
    ):
        self.loader, self.link, self.sheet, self.result, self.advance = (
            loader,
            link,
            sheet,
            result,
            advance,
        )
        self.ids = {key: int(value) for key, value in link.columns.items()}
        self.types = {c.key: c.type for c in sheet.columns}
        self.skipped = {
            c.key for c in sheet.columns if c.system_column_type or c.type == "PREDECESSOR"
        }
        self.links = {link.key: link for link in RowLink.objects.filter(sheet=self.link)}

    def issue(
        self, severity: str, key: str, rule: str, message: str, field_: str = "", value: str = ""
    ) -> None:
        self.result.issues.append(
            Issue(severity, "load", "Row", key, field_, rule, value[:200], message)
        )

    # --- cells ---------------------------------------------------------------------------------

    def values(self, row) -> dict[str, Any]:
        """The row's written cells: column key -> value or objectValue."""
        return {
            key: (cell.object_value if cell.object_value is not None else cell.value)
            for key, cell in row.cells.items()
            if key not in self.skipped and key in self.ids
        }

    def cells(self, values: dict[str, Any], *, clear: bool = False) -> list[dict]:
        cells = []
        for key, value in values.items():
            if value is None or value == "":
                if clear:
                    cells.append({"columnId": self.ids[key], "value": ""})
                continue
            if isinstance(value, dict):
                cells.append({"columnId": self.ids[key], "objectValue": value})
            elif self.types.get(key) == "CONTACT_LIST":
                # A name without an email is no contact: Smartsheet keeps it as the cell's
                # text only when the cell is not strict (strict, it wants an email).
                # Reference: SPEC-SS Cell.strict; the Cells "Column Type" table (CONTACT_LIST).
                cells.append({"columnId": self.ids[key], "value": value, "strict": False})
            else:
                cells.append({"columnId": self.ids[key], "value": value})
        return cells

    # --- rows ----------------------------------------------------------------------------------

    def write(self, advance_predecessors=None) -> None:
        """Rows: new ones added parents first, one call per 500 rows of each parent location,
        changed ones updated; predecessors written as soon as 500 rows' predecessors and
        their rows all exist (so the heavy updates go while later rows are still being added,
        in the same number of calls), the rest once every row is there."""
        self.recover()
        new: dict[str | None, list] = defaultdict(list)
        order: dict[str | None, int] = {None: -1}
        changed, position = [], {}
        for index, row in enumerate(self.sheet.rows):
            position[row.key] = index
            values = self.values(row)
            link = self.links.get(row.key)
            if link is None:
                new[row.parent_key].append((row, values))
                order.setdefault(row.parent_key, position.get(row.parent_key, index))
            elif link.content_hash != digest(values):
                changed.append((row, values, link))
            else:
                self.result.rows_unchanged += 1
        unchanged = len(self.sheet.rows) - sum(map(len, new.values())) - len(changed)
        if unchanged:
            self.advance(unchanged)
        locations = sorted(new, key=lambda k: order[k])
        made = [row.key for parent_key in locations for row, _ in new[parent_key]]
        linker = Predecessors(self, made, advance_predecessors or (lambda count: None))
        for parent_key in locations:
            items = new[parent_key]
            parent_id = None
            if parent_key is not None:
                parent = self.links.get(parent_key)
                if parent is None:
                    for row, _ in items:
                        self.issue(
                            "error",
                            row.key,
                            "row.parent_missing",
                            "Its parent row was not written: it waits for the next run.",
                            "parent_key",
                            parent_key,
                        )
                    self.advance(len(items))
                    continue
                parent_id = parent.row_id
            for start in range(0, len(items), ROWS):
                self.add(items[start : start + ROWS], parent_id)
                linker.pump()
        for start in range(0, len(changed), ROWS):
            self.update(changed[start : start + ROWS])
        linker.pump(final=True)

    def add(self, items: list, parent_id: int | None) -> None:
        batch, now = str(uuid.uuid4()), timezone.now()
        workspace = self.loader.hub_workspace
        # One prepared INSERT per batch (the engine's insert_many), committed before the call.
        insert_many(
            LoadIntent,
            INTENT_FIELDS,
            (
                (
                    workspace.pk,
                    self.loader.connection.pk,
                    self.link.pk,
                    LoadIntent.Operation.ROW,
                    row.key,
                    row_target(parent_id),
                    fingerprint(values, self.types),
                    batch,
                    index,
                    now,
                )
                for index, (row, values) in enumerate(items)
            ),
        )
        try:
            answer = self.loader.call(
                smartsheet.add_rows,
                sheet_id=self.link.remote_id,
                cells=[self.cells(values) for _, values in items],
                parent_id=parent_id,
            )
        except STOP:
            raise  # the run stops; the intents stay for the next one to reconcile
        except http.ProviderError as exc:
            if isinstance(exc, http.Permanent):
                LoadIntent.objects.filter(batch=batch).delete()  # refused whole: nothing made
            for row, _ in items:
                self.issue("error", row.key, "row.refused", exc.message)
            self.advance(len(items))
            return
        failed = {failure.index: failure for failure in answer.failures}
        written, links = iter(answer.rows), []
        for index, (row, values) in enumerate(items):
            if index in failed:
                failure = failed[index]
                self.issue(
                    "error",
                    row.key,
                    "row.refused",
                    f"Smartsheet refused the row: {failure.message} (error {failure.code})",
                )
                continue
            made = next(written)
            links.append(
                RowLink(
                    workspace=workspace,
                    sheet=self.link,
                    key=row.key,
                    row_id=made.id,
                    parent_row_id=parent_id,
                    remote_version=made.version,
                    content_hash=digest(values),
                    synced_values=values,
                )
            )
        with transaction.atomic():
            insert_many(
                RowLink,
                LINK_FIELDS,
                (
                    (
                        workspace.pk,
                        self.link.pk,
                        link.key,
                        link.row_id,
                        link.parent_row_id,
                        link.remote_version,
                        link.content_hash,
                        link.synced_values,
                        now,
                        "",
                    )
                    for link in links
                ),
            )
            LoadIntent.objects.filter(batch=batch).delete()
        for link in links:
            self.links[link.key] = link
        self.result.rows_created += len(links)
        self.advance(len(items))

    def update(self, items: list) -> None:
        payload = []
        for _, values, link in items:
            before = link.synced_values or {}
            delta = {k: v for k, v in values.items() if before.get(k) != v}
            delta.update({k: None for k in before if k not in values and k in self.ids})
            payload.append((link.row_id, self.cells(delta, clear=True)))
        keys = [row.key for row, _, _ in items]
        failed = self.update_rows(payload, keys, rule="row.refused", what="the update")
        if failed is None:
            self.advance(len(items))
            return
        saved = []
        for index, (_, values, link) in enumerate(items):
            if index in failed:
                continue
            link.synced_values, link.content_hash = values, digest(values)
            saved.append(link)
        update_many(RowLink, saved, ["synced_values", "content_hash"])
        self.result.rows_updated += len(saved)
        self.advance(len(items))

    def update_rows(self, payload: list, keys: list[str], *, rule: str, what: str) -> set | None:
        """One Update Rows call of `payload` ((row id, cells) per row). A refusal of the whole
        call is an issue for every key, and None; a row refused is an issue for its key. The
        indexes of the rows refused."""
        try:
            answer = self.loader.call(
                smartsheet.update_rows, sheet_id=self.link.remote_id, rows=payload
            )
        except STOP:
            raise
        except http.ProviderError as exc:
            for key in keys:
                self.issue("error", key, rule, exc.message)
            return None
        for failure in answer.failures:
            self.issue(
                "error",
                keys[failure.index],
                rule,
                f"Smartsheet refused {what}: {failure.message} (error {failure.code})",
            )
        return {failure.index for failure in answer.failures}

    def recover(self) -> None:
        """Adopt the rows an interrupted run added but did not record (its intents left)."""
        intents = list(
            LoadIntent.objects.filter(sheet=self.link, operation=LoadIntent.Operation.ROW)
        )
        if not intents:
            return
        listed = self.loader.call(smartsheet.get_sheet, sheet_id=self.link.remote_id)
        keys = {int(v): k for k, v in self.ids.items() if k not in self.skipped}
        owned = set(RowLink.objects.filter(sheet=self.link).values_list("row_id", flat=True))

        def digest_of(row) -> str:
            return fingerprint(
                {keys[c["columnId"]]: c["value"] for c in row.cells if c["columnId"] in keys},
                self.types,
            )

        held = held_rows(listed.rows, owned=owned, digest_of=digest_of)
        planned = {row.key: row for row in self.sheet.rows}
        rows = {row.id: row for row in listed.rows}
        adopted = []
        for intent, record in reconcile(intents, held).adopt:
            row = planned.get(intent.key)
            if row is None or intent.key in self.links:
                continue
            values = self.values(row)
            made = rows[record.remote_id]
            adopted.append(
                RowLink(
                    workspace=self.loader.hub_workspace,
                    sheet=self.link,
                    key=intent.key,
                    row_id=made.id,
                    parent_row_id=made.parent_id,
                    remote_version=made.version,
                    content_hash=digest(values),
                    synced_values=values,
                )
            )
        with transaction.atomic():
            RowLink.objects.bulk_create(adopted)
            LoadIntent.objects.filter(pk__in=[i.pk for i in intents]).delete()
        for link in adopted:
            self.links[link.key] = link
        self.result.rows_adopted += len(adopted)

    # --- predecessors --------------------------------------------------------------------------


class Predecessors:
    """A sheet's predecessor cells (PREDECESSOR_LIST objectValues), written 500 rows per
    Update Rows once the rows they name exist. `made`: the keys of the rows this run adds, in
    the order it adds them; a row's predecessors are ready when it and each predecessor has a
    row, so the plans are taken in the order they become ready."""

    def __init__(self, rows: Rows, made: list[str], advance):
        self.rows, self.advance = rows, advance
        sheet = rows.sheet
        self.column = next((c for c in sheet.columns if c.type == "PREDECESSOR"), None)
        self.hours = float((sheet.project_settings or {}).get("lengthOfDay") or 8)
        self.buffer: list[tuple] = []
        self.wanted: set[str] = set()
        if sheet.predecessors and (self.column is None or self.column.key not in rows.ids):
            for plan in sheet.predecessors:
                rows.issue(
                    "error",
                    plan.row_key,
                    "predecessor.no_column",
                    "The sheet has no Predecessors column (the project-sheet template's).",
                )
            advance(len(sheet.predecessors))
            self.pending: deque = deque()
            return
        rank = {key: n for n, key in enumerate(made)}
        never = len(made)  # a row neither linked nor made now: ready only at the end

        def ready_at(plan) -> int:
            keys = [plan.row_key, *(item["row_key"] for item in plan.predecessors)]
            return max(-1 if key in rows.links else rank.get(key, never) for key in keys)

        self.pending = deque(sorted(sheet.predecessors, key=ready_at))

    def pump(self, *, final: bool = False) -> None:
        links = self.rows.links
        while self.pending and (
            final
            or all(
                key in links
                for key in (
                    self.pending[0].row_key,
                    *(item["row_key"] for item in self.pending[0].predecessors),
                )
            )
        ):
            self.stage(self.pending.popleft())
        if final and self.column is not None and self.column.key in self.rows.ids:
            for key, link in links.items():  # predecessors the plan no longer has
                if link.predecessors_hash and key not in self.wanted:
                    self.buffer.append((link, None, ""))
        while len(self.buffer) >= ROWS or (final and self.buffer):
            chunk, self.buffer = self.buffer[:ROWS], self.buffer[ROWS:]
            self.send(chunk)

    def stage(self, plan) -> None:
        rows = self.rows
        link = rows.links.get(plan.row_key)
        self.advance(1)
        if link is None:
            rows.issue(
                "warning",
                plan.row_key,
                "predecessor.row_missing",
                "The row has no Smartsheet row: its predecessors are not written.",
            )
            return
        items = []
        for item in plan.predecessors:
            source = rows.links.get(item["row_key"])
            if source is None:
                rows.issue(
                    "warning",
                    plan.row_key,
                    "predecessor.missing",
                    f"Predecessor {item['row_key']} has no row: left out.",
                    "predecessors",
                    item["row_key"],
                )
                continue
            entry = {"rowId": source.row_id, "type": item.get("type") or "FS"}
            lag = lag_duration(
                item.get("lag_minutes") or 0, item.get("lag_unit") or "d", self.hours
            )
            if lag:
                entry["lag"] = lag
            items.append(entry)
        self.wanted.add(plan.row_key)
        value = {"objectType": "PREDECESSOR_LIST", "predecessors": items} if items else None
        hashed = digest(value) if value else ""
        if hashed != link.predecessors_hash:
            self.buffer.append((link, value, hashed))

    def send(self, chunk: list[tuple]) -> None:
        rows = self.rows
        column_id = rows.ids[self.column.key]
        payload = [
            (
                link.row_id,
                [
                    {"columnId": column_id, "objectValue": value}
                    if value
                    else {"columnId": column_id, "value": ""}
                ],
            )
            for link, value, _ in chunk
        ]
        keys = [link.key for link, _, _ in chunk]
        failed = rows.update_rows(
            payload, keys, rule="predecessor.refused", what="the predecessors"
        )
        if failed is None:
            return
        saved = [link for index, (link, _, _) in enumerate(chunk) if index not in failed]
        unsaved = [link.key for link in saved if link.pk is None]  # made this run (insert_many)
        if unsaved:
            pks = dict(
                RowLink.objects.filter(sheet=rows.link, key__in=unsaved).values_list("key", "pk")
            )
            for link in saved:
                if link.pk is None:
                    link.pk = pks.get(link.key)
        for index, (link, _, hashed) in enumerate(chunk):
            if index not in failed:
                link.predecessors_hash = hashed
        update_many(RowLink, [link for link in saved if link.pk is not None], ["predecessors_hash"])
        rows.result.predecessors_written += len(saved)


def floor_calls(plan: Plan, *, template_titles: frozenset[str] = frozenset()) -> int:
    """The fewest calls Smartsheet's rules allow for a first load of `plan` (the bench's floor):
    PMO Standards: its workspace, then per reference sheet its create and one add of its
    values. Per project: its workspace; per sheet its create; a sheet made from the template
    also one read of the copy's columns (the create answers none), one add per run of adjacent
    new columns (one common index per call) and one update per template column the plan
    renames (`template_titles`: the template's titles; there is no bulk column update); then
    ceil(rows / 500) per parent location (Add Rows takes one location per call) and
    ceil(rows with predecessors / 500) (Update Rows, 500 rows)."""
    calls = 0
    if plan.pmo:
        calls += 1 + 2 * len(plan.pmo)
    for workspace in plan.workspaces:
        calls += 1
        for sheet in workspace.sheets:
            calls += 1
            if any(c.from_template for c in sheet.columns):
                runs, inside = 0, False
                for column in sheet.columns:
                    new = not column.from_template
                    runs += new and not inside
                    inside = new
                renamed = sum(
                    1 for c in sheet.columns if c.from_template and c.title not in template_titles
                )
                calls += 1 + runs + renamed
            locations: dict[str | None, int] = defaultdict(int)
            for row in sheet.rows:
                locations[row.parent_key] += 1
            calls += sum(math.ceil(n / ROWS) for n in locations.values())
            calls += math.ceil(len(sheet.predecessors) / ROWS)
    return calls

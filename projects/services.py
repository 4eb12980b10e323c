"""Writes of the projects app: projects and their timeline, the sheet link (provisioning),
sync runs, and the handling of unmapped rows."""

from decimal import Decimal

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from integrations import http
from integrations import services as platform
from integrations.errors import ApplicationError, Conflict, NotFound
from integrations.models import Connection, User
from integrations.providers import smartsheet
from integrations.providers.base import rate_key
from integrations.runs import SyncRun, request_run
from projects import selectors, sheet
from projects.models import (
    ENTITY_MODELS,
    Attachment,
    Comment,
    Project,
    ProjectSheetLink,
    ProjectSyncRun,
    PurchaseOrder,
    RowMapping,
    SmartsheetSetup,
    TaskBlock,
    UnmappedRow,
    WorkOrder,
)

SHEET_NAME_MAX = 50


class SmartsheetRequired(ApplicationError):
    """Authoring and syncing need the user's own Smartsheet connection (attribution)."""

    status_code = 409
    code = "smartsheet_required"


class SheetSchemaInvalid(ApplicationError):
    code = "sheet_schema_invalid"


def smartsheet_connection(*, user: User, project: Project) -> Connection:
    connection = selectors.smartsheet_connection(user=user, workspace=project.workspace)
    if connection is None:
        raise SmartsheetRequired(
            "Connect Smartsheet first: entries are signed with your Smartsheet account."
        )
    return connection


# --- projects and the timeline -------------------------------------------------------------


@platform.audited
@transaction.atomic
def project_create(*, workspace, actor: User, number: str, name: str, **fields) -> Project:
    if Project.objects.filter(workspace=workspace, number=number).exists():
        raise Conflict(
            f"Project {number} already exists in {workspace.name}.",
            details={"number": ["Already taken."]},
        )
    project = Project(workspace=workspace, number=number, name=name, created_by=actor, **fields)
    project.full_clean()
    project.save()
    platform.audit_record(
        action="project.create", actor=actor, target=project, after=platform.snapshot(project)
    )
    return project


def demo_project(*, workspace, user: User, **signal) -> None:
    """`make run`'s demo: one project to connect, provision and sync (once)."""
    if not Project.objects.filter(workspace=workspace).exists():
        project_create(
            workspace=workspace, actor=user, number="1001", name="Demo warehouse fit-out"
        )


ENTRY_KINDS = {
    "taskblock": TaskBlock,
    "comment": Comment,
    "purchaseorder": PurchaseOrder,
    "workorder": WorkOrder,
    "attachment": Attachment,
}


@platform.audited
@transaction.atomic
def timeline_add(
    *, project: Project, actor: User, kind: str, upload: UploadedFile | None = None, **fields
):
    """Add an entry to a project's timeline, signed with the author's Smartsheet identity."""
    model = ENTRY_KINDS.get(kind)
    if model is None:
        raise ApplicationError(
            f"Unknown timeline entry {kind!r}.", details={"kind": ["Not a choice."]}
        )
    connection = smartsheet_connection(user=actor, project=project)
    task_block = fields.pop("task_block", None)
    if task_block is not None and task_block.project_id != project.pk:
        raise NotFound("No such task block in this project.")
    entry = model(
        workspace=project.workspace,
        project=project,
        author=actor,
        ss_user_id=connection.external_user_id,
        ss_email=connection.external_email,
        **fields,
    )
    if model is not TaskBlock:
        entry.task_block = task_block
    if model is Attachment:
        if upload is None:
            raise ApplicationError(
                "Choose a file to attach.", details={"file": ["This field is required."]}
            )
        entry.name = entry.name or upload.name
        entry.size = upload.size
        entry.content_type = upload.content_type or ""
        entry.file.save(upload.name, upload, save=False)
    entry.full_clean()
    entry.save()
    platform.audit_record(
        action=f"timeline.{kind}.create", actor=actor, target=entry, workspace=project.workspace_id
    )
    return entry


def as_amount(value) -> Decimal | None:
    return Decimal(str(value)) if value not in (None, "") else None


# --- provisioning ----------------------------------------------------------------------------


def _sheet_name(project: Project) -> str:
    name = f"{project.number} {project.name}"
    return name if len(name) <= SHEET_NAME_MAX else name[: SHEET_NAME_MAX - 3].rstrip() + "..."


def _link(
    project: Project, actor: User, info: smartsheet.SheetInfo, *, from_template: bool
) -> ProjectSheetLink:
    columns = [
        {"title": c.title, "type": c.type, "primary": c.primary, "id": c.id} for c in info.columns
    ]
    problems = sheet.schema_problems(columns)
    if problems:
        raise SheetSchemaInvalid(
            f"Sheet {info.id} is not a project sheet: " + "; ".join(problems) + ".",
            details={"columns": problems},
        )
    link = ProjectSheetLink.objects.create(
        workspace=project.workspace,
        project=project,
        sheet_id=info.id,
        sheet_name=info.name,
        permalink=info.permalink,
        columns=sheet.column_ids(columns),
        linked_by=actor,
        created_from_template=from_template,
    )
    platform.audit_record(
        action="project.sheet_link",
        actor=actor,
        target=link,
        details={"sheet_id": info.id, "from_template": from_template},
    )
    return link


def _writer(project: Project, actor: User):
    connection = smartsheet_connection(user=actor, project=project)
    return smartsheet.writer(platform.access_token(connection), key=rate_key(connection))


@platform.audited
def sheet_provision(*, project: Project, actor: User) -> ProjectSheetLink:
    """Copy the workspace's template into its target workspace, named after the project, and
    link it once its columns check out."""
    if hasattr(project, "sheet_link"):
        raise Conflict(f"{project} already has a sheet: {project.sheet_link.sheet_name}.")
    setup, _ = SmartsheetSetup.objects.get_or_create(workspace=project.workspace)
    try:
        copied = smartsheet.copy_sheet(
            _writer(project, actor),
            sheet_id=setup.template_sheet_id,
            workspace_id=setup.target_workspace_id,
            name=_sheet_name(project),
        )
    except http.ProviderError as exc:
        raise ApplicationError(
            f"The template could not be copied: {exc.message}", code="provision_failed"
        ) from None
    return _link(project, actor, copied, from_template=True)


@platform.audited
def sheet_attach(*, project: Project, actor: User, sheet_id: int) -> ProjectSheetLink:
    """Link an existing sheet, after the same column check as a provisioned one."""
    if hasattr(project, "sheet_link"):
        raise Conflict(f"{project} already has a sheet: {project.sheet_link.sheet_name}.")
    try:
        info = smartsheet.get_sheet(_writer(project, actor), sheet_id=sheet_id, page_size=1)
    except http.Permanent as exc:
        raise NotFound(
            f"Smartsheet has no sheet {sheet_id} you can open ({exc.message}).",
            code="sheet_not_found",
        ) from None
    return _link(project, actor, info, from_template=False)


# --- runs --------------------------------------------------------------------------------------


@platform.audited
def sync_request(
    *, project: Project, actor: User, direction: str, trigger: str = SyncRun.Trigger.BUTTON
) -> ProjectSyncRun:
    """Queue a run. One run per project at a time (a database constraint); a run whose worker
    went silent for 5 minutes is closed as failed first, so a dead worker never blocks forever."""
    if direction not in ProjectSyncRun.Direction.values:
        raise ApplicationError(
            "direction must be outbound or inbound.", details={"direction": ["Not a choice."]}
        )
    if not hasattr(project, "sheet_link"):
        raise Conflict("Create or attach the project's Smartsheet sheet first.", code="no_sheet")
    connection = smartsheet_connection(user=actor, project=project)
    from projects import tasks

    return request_run(
        ProjectSyncRun.objects.filter(project=project),
        task=tasks.sync_run,
        action=f"project.sync.{direction}",
        busy="A sync of this project is already running; wait for it to finish.",
        workspace=project.workspace,
        project=project,
        connection=connection,
        direction=direction,
        trigger=trigger,
        requested_by=actor,
    )


# --- unmapped rows ---------------------------------------------------------------------------


@platform.audited
@transaction.atomic
def unmapped_ignore(*, row: UnmappedRow, actor: User) -> UnmappedRow:
    row.state = UnmappedRow.State.IGNORED
    row.save(update_fields=["state"])
    platform.audit_record(action="project.unmapped.ignore", actor=actor, target=row)
    return row


@platform.audited
@transaction.atomic
def unmapped_link(*, row: UnmappedRow, actor: User, entity_type: str, entity_id: int) -> RowMapping:
    """Say which existing entity an unmapped row is; the next outbound sync writes ours to it."""
    model = ENTITY_MODELS.get(entity_type)
    entity = model.objects.filter(pk=entity_id, project=row.link.project).first() if model else None
    if entity is None:
        raise NotFound(f"No {entity_type or 'entity'} {entity_id} in {row.link.project}.")
    if RowMapping.objects.filter(
        link=row.link, entity_type=entity_type, entity_id=entity_id
    ).exists():
        raise Conflict(f"{entity} already has a row.")
    # The row as last read counts as seen (no inbound change) and its content as unknown (""),
    # so the next outbound sync writes the entity onto it: linking adopts the row for ours.
    mapping = RowMapping.objects.create(
        workspace=row.workspace,
        link=row.link,
        sheet_id=row.link.sheet_id,
        row_id=row.row_id,
        entity_type=entity_type,
        entity_id=entity_id,
        parent_row_id=row.parent_row_id,
        row_version=row.row_version,
        content_hash="",
    )
    row.state, row.link_entity_type, row.link_entity_id = (
        UnmappedRow.State.LINKED,
        entity_type,
        entity_id,
    )
    row.save(update_fields=["state", "link_entity_type", "link_entity_id"])
    platform.audit_record(
        action="project.unmapped.link",
        actor=actor,
        target=row,
        details={"entity": f"{entity_type} {entity_id}"},
    )
    return mapping


@platform.audited
@transaction.atomic
def unmapped_import(*, row: UnmappedRow, actor: User):
    """Make the entity a row describes (by its Type column) and map it to the row."""
    link = row.link
    values = row.cells
    kind = {
        t: k
        for k, t in (
            ("taskblock", "Task Block"),
            ("comment", "Comment"),
            ("purchaseorder", "Purchase Order"),
            ("workorder", "Work Order"),
            ("workorder", "Custom Work Order"),
        )
    }.get(values.get("type"))
    if kind is None:
        raise ApplicationError(
            f"its Type is {'“' + str(values['type']) + '”' if values.get('type') else 'empty'}: "
            "set it to Task Block, Comment, Purchase Order or Work Order in Smartsheet, "
            "or link the row to an existing entry instead.",
            code="not_importable",
        )
    parent = RowMapping.objects.filter(
        link=link, row_id=row.parent_row_id, entity_type="taskblock"
    ).first()
    task_block = TaskBlock.objects.filter(pk=parent.entity_id).first() if parent else None
    common = {"workspace": link.workspace, "project": link.project, "author": actor}
    name = str(values.get("name") or "")
    if kind == "taskblock":
        entity = TaskBlock(**common, title=name or "Untitled", notes=str(values.get("notes") or ""))
    elif kind == "comment":
        entity = Comment(
            **common, task_block=task_block, text=str(values.get("notes") or name or "(empty)")
        )
    elif kind == "purchaseorder":
        entity = PurchaseOrder(
            **common,
            task_block=task_block,
            number=name[:40] or "?",
            vendor=str(values.get("notes") or "")[:200],
            amount=as_amount(values.get("amount")),
        )
    else:
        entity = WorkOrder(
            **common,
            task_block=task_block,
            number=name[:40] or "?",
            description=name[:300],
            is_custom=values.get("type") == "Custom Work Order",
            amount=as_amount(values.get("amount")),
        )
    status = sheet.status_value(values.get("status"))
    if status and hasattr(entity, "status"):
        entity.status = status
    entity.save()
    RowMapping.objects.create(
        workspace=link.workspace,
        link=link,
        sheet_id=link.sheet_id,
        row_id=row.row_id,
        entity_type=kind,
        entity_id=entity.pk,
        parent_row_id=row.parent_row_id,
        row_version=row.row_version,
        content_hash=sheet.content_hash(sheet.row_values(entity, link.project.number)),
    )
    row.state = UnmappedRow.State.IMPORTED
    row.save(update_fields=["state"])
    platform.audit_record(
        action="project.unmapped.import", actor=actor, target=entity, workspace=link.workspace_id
    )
    return entity

"""Writes of the projects app: projects and their timeline, the sheet link (provisioning),
sync runs, and the handling of unmapped rows."""

from decimal import Decimal
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils.text import capfirst

from integrations.accounts import audit
from integrations.accounts import services as accounts
from integrations.accounts.models import User
from integrations.connections import http
from integrations.connections import services as connections
from integrations.connections.models import Connection
from integrations.connections.providers import smartsheet
from integrations.errors import ApplicationError, Conflict, NotFound
from integrations.mapping.transforms import MappingError
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
    Status,
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


@audit.audited
@transaction.atomic
def project_create(*, workspace, actor: User, number: str, name: str, **fields) -> Project:
    accounts.require_workspace_member(actor=actor, workspace=workspace, doing="add projects")
    if Project.objects.filter(workspace=workspace, number=number).exists():
        raise Conflict(
            f"Project {number} already exists in {workspace.name}.",
            details={"number": ["Already taken."]},
        )
    project = Project(workspace=workspace, number=number, name=name, created_by=actor, **fields)
    project.full_clean()
    project.save()
    audit.audit_record(
        action="project.create", actor=actor, target=project, after=audit.snapshot(project)
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


@audit.audited
@transaction.atomic
def timeline_add(
    *, project: Project, actor: User, kind: str, upload: UploadedFile | None = None, **fields
):
    """Add an entry to a project's timeline, signed with the author's Smartsheet identity."""
    accounts.require_workspace_member(
        actor=actor, workspace=project.workspace, doing="add to its timeline"
    )
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
                "Choose a file to attach.", details={"file": ["Choose a file to attach."]}
            )
        upload_check(upload)
        entry.name = entry.name or PurePath(upload.name).name
        entry.size = upload.size
        entry.content_type = upload.content_type or ""
        # Assigned, not saved: the file reaches the storage only when the row is saved, after
        # every check, so a refused entry leaves no file behind.
        entry.file = upload
    try:
        entry.full_clean()
    except ValidationError as exc:
        raise _invalid(model, exc) from None
    try:
        entry.save()
        audit.audit_record(
            action=f"timeline.{kind}.create",
            actor=actor,
            target=entry,
            workspace=project.workspace_id,
        )
    except BaseException:
        # The row rolls back with this transaction; the file written by save() must go too.
        if model is Attachment and entry.file.name and entry.file._committed:
            entry.file.storage.delete(entry.file.name)
        raise
    return entry


def _invalid(model, exc: ValidationError) -> ApplicationError:
    """A model check failed: one message in the model's own words (field labels, not names)."""
    problems = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
    labels = {field.name: capfirst(field.verbose_name) for field in model._meta.fields}
    parts = []
    for field, messages in problems.items():
        label = labels.get(field, "")
        parts.append(f"{label}: {' '.join(messages)}" if label else " ".join(messages))
    return ApplicationError(" ".join(parts), code="invalid", details=problems)


def upload_check(upload: UploadedFile) -> None:
    """Refuse a file whose type is not on the allow-list (UPLOAD_ALLOWED_EXTENSIONS) or that is
    larger than UPLOAD_MAX_MB, before anything is stored."""
    name = PurePath(upload.name or "").name
    extension = PurePath(name).suffix.lower().lstrip(".")
    if extension not in settings.UPLOAD_ALLOWED_EXTENSIONS:
        kind = f".{extension} files" if extension else "files without an extension"
        message = (
            f"“{name}” cannot be attached: {kind} are not accepted. Accepted: "
            + ", ".join(f".{e}" for e in settings.UPLOAD_ALLOWED_EXTENSIONS)
            + "."
        )
        raise ApplicationError(message, code="file_type_not_allowed", details={"file": [message]})
    limit = settings.UPLOAD_MAX_MB * 1024 * 1024
    if upload.size > limit:
        message = (
            f"“{name}” is {upload.size / 1024 / 1024:.1f} MB: attachments can be at most "
            f"{settings.UPLOAD_MAX_MB} MB."
        )
        raise ApplicationError(message, code="file_too_large", details={"file": [message]})


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
    sheet.mapping_set_for(project.workspace)  # the shipped mapping set, for admins to adjust
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
    audit.audit_record(
        action="project.sheet_link",
        actor=actor,
        target=link,
        details={"sheet_id": info.id, "from_template": from_template},
    )
    return link


def _smartsheet(project: Project, actor: User, function):
    """`function(sdk)` with the actor's Smartsheet connection (its one client)."""
    connection = smartsheet_connection(user=actor, project=project)
    return connections.client(connection).call(lambda c: function(c.sdk))


@audit.audited
def sheet_provision(*, project: Project, actor: User) -> ProjectSheetLink:
    """Copy the workspace's template into its target workspace, named after the project, and
    link it once its columns check out."""
    accounts.require_workspace_member(
        actor=actor, workspace=project.workspace, doing="create its sheet"
    )
    if hasattr(project, "sheet_link"):
        raise Conflict(f"{project} already has a sheet: {project.sheet_link.sheet_name}.")
    setup, _ = SmartsheetSetup.objects.get_or_create(workspace=project.workspace)
    try:
        copied = _smartsheet(
            project,
            actor,
            lambda sdk: smartsheet.copy_sheet(
                sdk,
                sheet_id=setup.template_sheet_id,
                workspace_id=setup.target_workspace_id,
                name=_sheet_name(project),
            ),
        )
    except http.ProviderError as exc:
        raise ApplicationError(
            f"The template could not be copied: {exc.message}", code="provision_failed"
        ) from None
    return _link(project, actor, copied, from_template=True)


@audit.audited
def sheet_attach(
    *, project: Project, actor: User, sheet_id: int, force: bool = False
) -> ProjectSheetLink:
    """Link an existing sheet, after the same column check as a provisioned one.

    A sheet belongs to one project. One already linked to another project of the workspace is
    refused, naming that project, unless a workspace admin `force`s it: the other project's
    link is then removed (its row mappings with it; its entries stay) and the takeover
    audited on both projects. A sheet of another workspace's project is never taken over."""
    accounts.require_workspace_member(
        actor=actor, workspace=project.workspace, doing="attach its sheet"
    )
    if force:
        accounts.require_workspace_admin(
            actor=actor, workspace=project.workspace, doing="attach a sheet another project uses"
        )
    if hasattr(project, "sheet_link"):
        raise Conflict(f"{project} already has a sheet: {project.sheet_link.sheet_name}.")
    holder = _sheet_holder(project=project, sheet_id=sheet_id, force=force)
    try:
        info = _smartsheet(
            project, actor, lambda sdk: smartsheet.get_sheet(sdk, sheet_id=sheet_id, page_size=1)
        )
    except http.Permanent as exc:
        raise NotFound(
            f"Smartsheet has no sheet {sheet_id} you can open ({exc.message}).",
            code="sheet_not_found",
        ) from None
    try:
        with transaction.atomic():
            if holder is not None:
                _sheet_takeover(holder=holder, project=project, actor=actor)
            return _link(project, actor, info, from_template=False)
    except IntegrityError:
        # Another request linked the sheet between our check and our write.
        raise Conflict(
            f"Sheet {sheet_id} was just linked to another project; reload and try again.",
            code="sheet_in_use",
        ) from None


def _sheet_holder(*, project: Project, sheet_id: int, force: bool) -> ProjectSheetLink | None:
    """The link of another project to `sheet_id` that a forced attach would remove, if any;
    a refusal naming that project when it may not be removed."""
    holder = ProjectSheetLink.objects.select_related("project").filter(sheet_id=sheet_id).first()
    if holder is None:
        return None
    other = holder.project
    if other.workspace_id != project.workspace_id:
        # Named only inside its own workspace: a sheet id must not reveal another tenant's work.
        raise Conflict(
            f"Sheet {sheet_id} is already linked to a project in another workspace; "
            "it cannot be attached here.",
            code="sheet_in_use",
        )
    if not force:
        raise Conflict(
            f"Sheet {sheet_id} is already linked to project {other.number} “{other.name}”. "
            "Attach another sheet, or a workspace admin can attach it anyway "
            f"(that removes it from {other.number}).",
            code="sheet_in_use",
            details={"project": {"id": other.pk, "number": other.number, "name": other.name}},
        )
    if ProjectSyncRun.objects.filter(project=other, status__in=SyncRun.ACTIVE).exists():
        raise Conflict(
            f"Project {other.number} “{other.name}” is syncing with sheet {sheet_id} right "
            "now; attach it when that run has finished.",
            code="run_in_progress",
        )
    return holder


def _sheet_takeover(*, holder: ProjectSheetLink, project: Project, actor: User) -> None:
    other = holder.project
    details = {
        "sheet_id": holder.sheet_id,
        "from_project": f"{other.number} {other.name}",
        "to_project": f"{project.number} {project.name}",
        "row_mappings_removed": holder.row_mappings.count(),
    }
    holder.delete()
    for target in (other, project):
        audit.audit_record(
            action="project.sheet_takeover", actor=actor, target=target, details=details
        )


# --- runs --------------------------------------------------------------------------------------


@audit.audited
def sync_request(
    *, project: Project, actor: User, direction: str, trigger: str = SyncRun.Trigger.BUTTON
) -> ProjectSyncRun:
    """Queue a run. One run per project at a time (a database constraint); a run whose worker
    went silent for 5 minutes is closed as failed first, so a dead worker never blocks forever."""
    accounts.require_workspace_member(actor=actor, workspace=project.workspace, doing="sync it")
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


def _require_unmapped_admin(*, row: UnmappedRow, actor: User) -> None:
    # Importing writes entries into the timeline, linking decides which row is which entry:
    # an admin's decision, wherever it is made (page, API, Django admin).
    accounts.require_workspace_admin(
        actor=actor, workspace=row.workspace, doing="import, link or ignore unmapped rows"
    )
    if row.state != UnmappedRow.State.NEW:
        raise Conflict(f"Row {row.row_id} is already {row.get_state_display().lower()}.")


@audit.audited
@transaction.atomic
def unmapped_ignore(*, row: UnmappedRow, actor: User) -> UnmappedRow:
    """Leave a row out of the list: it stays in Smartsheet, nobody here owns it."""
    _require_unmapped_admin(row=row, actor=actor)
    row.state = UnmappedRow.State.IGNORED
    row.save(update_fields=["state"])
    audit.audit_record(action="project.unmapped.ignore", actor=actor, target=row)
    return row


@audit.audited
@transaction.atomic
def unmapped_link(*, row: UnmappedRow, actor: User, entity_type: str, entity_id: int) -> RowMapping:
    """Say which existing entity an unmapped row is; the next outbound sync writes ours to it."""
    _require_unmapped_admin(row=row, actor=actor)
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
        remote_version=row.row_version,
        content_hash="",
    )
    row.state, row.link_entity_type, row.link_entity_id = (
        UnmappedRow.State.LINKED,
        entity_type,
        entity_id,
    )
    row.save(update_fields=["state", "link_entity_type", "link_entity_id"])
    audit.audit_record(
        action="project.unmapped.link",
        actor=actor,
        target=row,
        details={"entity": f"{entity_type} {entity_id}"},
    )
    return mapping


@audit.audited
@transaction.atomic
def unmapped_import(*, row: UnmappedRow, actor: User):
    """Make the entity a row describes (by its Type column) and map it to the row."""
    _require_unmapped_admin(row=row, actor=actor)
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
    conversion, _ = sheet.conversion_for(link.workspace)
    status = conversion.entry_of(values).get("status")
    if status in Status.values and hasattr(entity, "status"):
        entity.status = status
    entity.save()
    # The entity as made from the row counts as synced: its cells are the merge base.
    try:
        values = conversion.cells(entity, link.project.number)
    except MappingError as exc:
        raise ApplicationError(f"The mapping set refused the new entry: {exc.message}") from None
    RowMapping.objects.create(
        workspace=link.workspace,
        link=link,
        sheet_id=link.sheet_id,
        row_id=row.row_id,
        entity_type=kind,
        entity_id=entity.pk,
        parent_row_id=row.parent_row_id,
        remote_version=row.row_version,
        content_hash=sheet.content_hash(values),
        synced_values=values,
    )
    row.state = UnmappedRow.State.IMPORTED
    row.save(update_fields=["state"])
    audit.audit_record(
        action="project.unmapped.import", actor=actor, target=entity, workspace=link.workspace_id
    )
    return entity

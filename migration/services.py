"""Writes of Project migration: `<entity>_<verb>` functions with keyword-only arguments.

A migration is started as a dry run (extract, transform, keep the plan and its report, write
nothing) or a real run; "Run for real" loads a dry run's plan unchanged. Every start is a
queued `MigrationRun` (integrations.runs.request_run: one at a time per hub workspace, audited),
done by the `migration.run` task (migration/pipeline.py)."""

import hashlib
from datetime import timedelta
from pathlib import PurePath

from celery import current_app
from django.conf import settings
from django.utils import timezone

from integrations.accounts import audit
from integrations.accounts import services as accounts
from integrations.accounts.audit import audit_record
from integrations.accounts.models import User, Workspace
from integrations.connections.models import Connection
from integrations.errors import ApplicationError, Conflict, TooLarge
from integrations.runs import SyncRun, request_run
from migration import selectors
from migration.files import FILE_PREFIX, MigrationFile
from migration.runs import MigrationIssue, MigrationRun

BUSY = "A migration of this workspace is already running; wait for it to finish."


class PlanNotUsable(ApplicationError):
    """A dry run's plan that cannot be run for real (missing, failed, stale, with errors)."""

    status_code = 409
    code = "plan_not_usable"


def _task(queue: bool):
    # The task by its name: migration/tasks.py imports the pipeline, which imports this module.
    return current_app.signature("migration.run") if queue else None


def _check_connection(
    connection: Connection | None, *, workspace: Workspace, provider: str, role: str
) -> Connection:
    if connection is None:
        raise ApplicationError(
            f"No {provider.replace('_', ' ')} connection: pick one (or add it under Connections).",
            details={f"{role}_connection": ["Pick a connection."]},
        )
    if connection.workspace_id != workspace.pk or connection.provider != provider:
        raise ApplicationError(
            f"Connection {connection.pk} is not a {provider} connection of {workspace.name}.",
            details={f"{role}_connection": [f"Pick a {provider} connection of this workspace."]},
        )
    if connection.status not in selectors.USABLE:
        raise Conflict(
            f"The {role} connection is {connection.get_status_display().lower()}: resume or "
            "reconnect it under Connections first.",
            code="connection_not_usable",
            details={f"{role}_connection": ["This connection cannot be used now."]},
        )
    return connection


def _project_ids(project_ids) -> list[str]:
    picked = list(dict.fromkeys(str(pid).strip() for pid in project_ids or [] if str(pid).strip()))
    if not picked:
        raise ApplicationError(
            "Pick at least one project to migrate.",
            details={"project_ids": ["Pick at least one project."]},
        )
    limit = settings.MIGRATION_MAX_PROJECTS
    if len(picked) > limit:
        raise ApplicationError(
            f"{len(picked)} projects picked; a run takes at most {limit} "
            "(MIGRATION_MAX_PROJECTS). Split them over several runs.",
            details={"project_ids": [f"At most {limit} projects per run."]},
        )
    return picked


@audit.audited
def migration_start(
    *,
    hub_workspace: Workspace,
    user: User | None,
    source_connection: Connection | None,
    target_connection: Connection | None,
    project_ids: list[str],
    dry_run: bool,
    accept_errors: bool = False,
    trigger: str = SyncRun.Trigger.API,
    queue: bool = True,
) -> MigrationRun:
    """Queue a migration of the picked Project Online projects into Smartsheet (a workspace
    admin's): a dry run keeps the plan and the report and writes nothing; a real run loads
    them, leaving out a project whose plan has errors unless `accept_errors`. `queue=False`:
    the caller does the run itself (the command)."""
    accounts.require_workspace_admin(
        actor=user, workspace=hub_workspace, doing="start a Project Online migration"
    )
    source = _check_connection(
        source_connection,
        workspace=hub_workspace,
        provider=selectors.SOURCE_PROVIDER,
        role="source",
    )
    target = _check_connection(
        target_connection,
        workspace=hub_workspace,
        provider=selectors.TARGET_PROVIDER,
        role="target",
    )
    return _request(
        hub_workspace,
        queue=queue,
        action="migration.dry_run" if dry_run else "migration.run",
        trigger=trigger,
        user=user,
        source_connection=source,
        target_connection=target,
        project_ids=_project_ids(project_ids),
        dry_run=dry_run,
        accept_errors=accept_errors,
    )


@audit.audited
def migration_file_add(
    *, hub_workspace: Workspace, user: User | None, name: str, content
) -> MigrationFile:
    """Keep an uploaded MS Project file for a migration (a workspace admin's): `content` its
    bytes or an uploaded file. Refused when it is empty or larger than MIGRATION_MAX_UPLOAD_MB
    (413, before an upload is read). Its content is not looked at here: the worker reads it
    (mpxj in a JVM never runs in a web request)."""
    accounts.require_workspace_admin(
        actor=user, workspace=hub_workspace, doing="upload MS Project files to migrate"
    )
    name = PurePath(str(name or "").replace("\\", "/")).name.strip()[:255] or "project file"
    limit = settings.MIGRATION_MAX_UPLOAD_MB
    size = content.size if hasattr(content, "size") else len(content)
    if size > limit * 1024 * 1024:
        raise TooLarge(
            f"{name}: {size / 1024 / 1024:.1f} MB is more than the {limit} MB a file may "
            "have (MIGRATION_MAX_UPLOAD_MB).",
            details={"files": [f"{name}: at most {limit} MB."]},
        )
    if hasattr(content, "read"):
        content = content.read()
    if not content:
        raise ApplicationError(
            f"{name}: the file is empty.", details={"files": [f"{name}: the file is empty."]}
        )
    row = MigrationFile.objects.create(
        workspace=hub_workspace,
        name=name,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        uploaded_by=user if user is not None and user.is_authenticated else None,
    )
    audit_record(
        action="migration.file_upload",
        actor=user,
        target=row,
        workspace=hub_workspace.pk,
        details={"name": name, "size": len(content)},
    )
    return row


def _file_keys(files, workspace: Workspace) -> list[str]:
    keys = []
    for row in files:
        if row.workspace_id != workspace.pk:
            raise ApplicationError(
                f"File {row.pk} is not one of {workspace.name}'s.",
                details={"files": [f"File {row.pk} is not one of this workspace's."]},
            )
        keys.append(row.project_key)
    return _project_ids(keys)


@audit.audited
def migration_start_files(
    *,
    hub_workspace: Workspace,
    user: User | None,
    files: list[MigrationFile],
    target_connection: Connection | None,
    dry_run: bool,
    accept_errors: bool = False,
    trigger: str = SyncRun.Trigger.API,
    queue: bool = True,
) -> MigrationRun:
    """Queue a migration of uploaded MS Project files into Smartsheet, one project each: the
    same dry run, report, run for real and resume as Project Online's (the worker reads the
    files). `queue=False`: the caller does the run itself (the command)."""
    accounts.require_workspace_admin(
        actor=user, workspace=hub_workspace, doing="start a migration of MS Project files"
    )
    target = _check_connection(
        target_connection,
        workspace=hub_workspace,
        provider=selectors.TARGET_PROVIDER,
        role="target",
    )
    project_ids = _file_keys(files, hub_workspace)
    return _request(
        hub_workspace,
        queue=queue,
        action="migration.dry_run" if dry_run else "migration.run",
        trigger=trigger,
        user=user,
        source_kind=MigrationRun.Source.FILE,
        target_connection=target,
        project_ids=project_ids,
        dry_run=dry_run,
        accept_errors=accept_errors,
        sources={key: {"name": row.name} for key, row in zip(project_ids, files, strict=True)},
    )


def _request(hub_workspace, *, queue: bool, action: str, trigger: str, user, **fields):
    """A migration run asked for in `hub_workspace` (one at a time there: BUSY otherwise)."""
    return request_run(
        MigrationRun.objects.filter(workspace=hub_workspace),
        task=_task(queue),
        action=action,
        busy=BUSY,
        workspace=hub_workspace,
        direction="outbound",
        trigger=trigger,
        requested_by=user,
        **fields,
    )


def run_files(run: MigrationRun) -> dict[str, MigrationFile]:
    """A file run's files by their key in project_ids ("file:<id>"); a deleted one is missing."""
    ids = [int(pid[len(FILE_PREFIX) :]) for pid in run.project_ids if pid.startswith(FILE_PREFIX)]
    rows = MigrationFile.objects.filter(workspace_id=run.workspace_id, pk__in=ids)
    return {row.project_key: row for row in rows}


def plan_refusal(run: MigrationRun, *, accept_errors: bool = False) -> str:
    """Why a run's plan cannot be run for real ("" when it can). Whether the projects changed
    in Project Online since is checked by the run itself, before it writes anything."""
    if not run.dry_run:
        return f"Run {run.pk} is not a dry run: start a dry run and run its plan for real."
    if run.is_active:
        return f"Dry run {run.pk} has not finished yet; wait for its plan."
    if run.status not in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL) or not run.plan:
        return f"Dry run {run.pk} made no plan ({run.message or run.get_status_display()})."
    age = timedelta(hours=settings.MIGRATION_PLAN_MAX_AGE_HOURS)
    if run.plan_made_at is None or timezone.now() - run.plan_made_at > age:
        return (
            f"The plan of dry run {run.pk} is older than {settings.MIGRATION_PLAN_MAX_AGE_HOURS} "
            "hours (MIGRATION_PLAN_MAX_AGE_HOURS): start a new dry run."
        )
    if run.issue_errors and not accept_errors:
        return (
            f"The plan of dry run {run.pk} has {run.issue_errors} error"
            f"{'s' if run.issue_errors != 1 else ''} (see its report): fix them in Project "
            "Online and dry-run again, or run it for real accepting them (the rows in error "
            "are not migrated)."
        )
    return ""


@audit.audited
def migration_run_from_plan(
    *,
    run: MigrationRun,
    user: User | None,
    accept_errors: bool = False,
    trigger: str = SyncRun.Trigger.API,
    queue: bool = True,
) -> MigrationRun:
    """ "Run for real": queue a real run that loads a dry run's plan, unchanged. Refused
    (PlanNotUsable) when the dry run has no plan, failed, is too old or has errors not
    accepted; the run itself stops before writing if a project changed since."""
    accounts.require_workspace_admin(
        actor=user, workspace=run.workspace, doing="run a migration for real"
    )
    refusal = plan_refusal(run, accept_errors=accept_errors)
    if refusal:
        raise PlanNotUsable(refusal)
    source = (
        None
        if run.source_kind == MigrationRun.Source.FILE
        else _check_connection(
            run.source_connection,
            workspace=run.workspace,
            provider=selectors.SOURCE_PROVIDER,
            role="source",
        )
    )
    target = _check_connection(
        run.target_connection,
        workspace=run.workspace,
        provider=selectors.TARGET_PROVIDER,
        role="target",
    )
    return _request(
        run.workspace,
        queue=queue,
        action="migration.run_from_plan",
        trigger=trigger,
        user=user,
        source_kind=run.source_kind,
        source_connection=source,
        target_connection=target,
        project_ids=run.project_ids,
        dry_run=False,
        accept_errors=accept_errors,
        runs_plan=run,
        plan=run.plan,
        plan_made_at=run.plan_made_at,
        sources=run.sources,
    )


@audit.audited
def migration_resume(
    *, run: MigrationRun, user: User | None, trigger: str = SyncRun.Trigger.API
) -> MigrationRun:
    """Start a stopped run again (failed or partly done: its worker died, a provider failed):
    a new run of the same projects, connections and plan. The load is idempotent (every
    Smartsheet id it made is recorded), so the new run updates what the old one wrote and
    writes the rest: nothing is duplicated."""
    accounts.require_workspace_admin(
        actor=user, workspace=run.workspace, doing="start a migration again"
    )
    if run.is_active:
        raise Conflict(f"Run {run.pk} is still going.", code="run_in_progress")
    if run.runs_plan_id is not None:
        source_run = run.runs_plan
        if source_run is None:
            raise PlanNotUsable("The dry run whose plan this run loaded is gone.")
        return migration_run_from_plan(
            run=source_run, user=user, accept_errors=run.accept_errors, trigger=trigger
        )
    if run.source_kind == MigrationRun.Source.FILE:
        files = run_files(run)
        missing = [pid for pid in run.project_ids if pid not in files]
        if missing:
            raise PlanNotUsable(
                f"{len(missing)} of the run's files are gone ({', '.join(missing)}); upload them "
                "again."
            )
        return migration_start_files(
            hub_workspace=run.workspace,
            user=user,
            files=[files[pid] for pid in run.project_ids],
            target_connection=run.target_connection,
            dry_run=run.dry_run,
            accept_errors=run.accept_errors,
            trigger=trigger,
        )
    return migration_start(
        hub_workspace=run.workspace,
        user=user,
        source_connection=run.source_connection,
        target_connection=run.target_connection,
        project_ids=run.project_ids,
        dry_run=run.dry_run,
        accept_errors=run.accept_errors,
        trigger=trigger,
    )


def issues_replace(*, run: MigrationRun, issues: list[tuple[str, object]]) -> int:
    """Store a run's report: (project id, migration.model.Issue) pairs, replacing any a
    previous attempt of this run stored."""
    MigrationIssue.objects.filter(run=run).delete()
    return issues_add(run=run, issues=issues)


def issues_add(*, run: MigrationRun, issues: list[tuple[str, object]]) -> int:
    rows = [
        MigrationIssue(
            workspace_id=run.workspace_id,
            run=run,
            project_id=project_id or "",
            severity=issue.severity,
            stage=issue.stage,
            entity=str(issue.entity)[:40],
            entity_id=str(issue.entity_id or "")[:200],
            field=str(issue.field or "")[:200],
            rule=str(issue.rule)[:100],
            value=str(issue.value if issue.value is not None else "")[:4000],
            message=str(issue.message),
        )
        for project_id, issue in issues
    ]
    MigrationIssue.objects.bulk_create(rows, batch_size=500)
    return len(rows)

"""Writes of CRM sync: `<entity>_<verb>` functions with keyword-only arguments."""

from crm.models import CrmConfig, SyncLog
from integrations.accounts.models import User
from integrations.accounts.services import require_workspace_admin
from integrations.runs import request_run


def sync_request(
    *,
    config: CrmConfig,
    entity: str,
    actor: User | None,
    trigger: str = SyncLog.Trigger.BUTTON,
    dry_run: bool = False,
) -> SyncLog:
    """Queue a run of one entity (a dry run plans and changes nothing); a run of it going is
    a 409 naming it. Workspace admins only (actor None: the system)."""
    from crm import tasks

    require_workspace_admin(actor=actor, workspace=config.workspace, doing="sync a CRM")
    return request_run(
        SyncLog.objects.filter(config=config, entity=entity),
        task=tasks.sync_run,
        action="crm.sync.dry_run" if dry_run else "crm.sync.request",
        busy=f"A sync of {config}'s {entity}s is already going.",
        workspace=config.workspace,
        config=config,
        entity=entity,
        direction=config.sync_direction,  # the log's choices carry the config's values
        trigger=trigger,
        requested_by=actor,
        dry_run=dry_run,
    )

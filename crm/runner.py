"""A queued CRM run's work, chosen by its kind: a sync's (crm.sync) or an undo's (crm.undo).
The choice is made here, above both, because crm.undo builds on crm.sync."""

from crm import sync, undo
from crm.models import CrmConfig, SyncLog


def execute(run_id: int) -> SyncLog | None:
    """Do one queued run (the task's and the command's body)."""
    return sync.execute(run_id, body=_body)


def _body(config: CrmConfig, run: SyncLog, through, progress) -> dict:
    if run.undoes_id is not None:
        return undo.undo_once(config, run, through, progress=progress)
    return sync.sync_body(config, run, through, progress)

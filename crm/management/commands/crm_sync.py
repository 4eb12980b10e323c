"""`manage.py crm_sync <config id> [--entity account] [--dry-run]`: run a CRM config's sync
here and now (accounts first), printing each run's progress and a summary."""

from django.core.management.base import BaseCommand, CommandError

from crm import runner, services
from crm.models import CrmConfig, Entity, SyncLog
from integrations.errors import ApplicationError


class Command(BaseCommand):
    help = "Sync a CRM config now (every entity it syncs, accounts first, or one)."

    def add_arguments(self, parser):
        parser.add_argument("config_id", type=int)
        parser.add_argument("--entity", choices=[e.value for e in Entity])
        parser.add_argument(
            "--dry-run", action="store_true", help="Plan and print; change nothing."
        )

    def handle(self, *args, config_id, entity=None, dry_run=False, **options):
        config = CrmConfig.objects.filter(pk=config_id).first()
        if config is None:
            raise CommandError(f"No CRM config with id {config_id}.")
        entities = [entity] if entity else services.ordered_entities(config)
        if not entities:
            raise CommandError(f"{config} syncs no entity; set its entities first.")
        failed = False
        for name in entities:
            self.stdout.write(f"{config}: {'planning' if dry_run else 'syncing'} {name}s…")
            try:
                run = services.sync_request(
                    config=config,
                    entity=name,
                    actor=None,
                    trigger=SyncLog.Trigger.COMMAND,
                    dry_run=dry_run,
                    queue=False,
                )
            except ApplicationError as exc:
                raise CommandError(exc.message) from None
            run = runner.execute(run.pk) or SyncLog.objects.get(pk=run.pk)
            for error in run.errors:
                self.stdout.write(f"  ! {error['item']}: {error['message']}")
            if dry_run:
                for step in run.plan:
                    side = step.get("side", "")
                    ids = step.get("remote_id") or step.get("local_id") or "new"
                    self.stdout.write(f"  {step['operation']} {side} {ids}".rstrip())
            line = (
                f"  {name}s: {run.status} — created {run.created}, updated {run.updated}, "
                f"failed {run.failed}, conflicts {run.conflicts} ({run.held} held), "
                f"{run.api_calls} API calls. {run.message}"
            )
            failed = failed or run.status == SyncLog.Status.FAILED
            self.stdout.write(self.style.ERROR(line) if failed else self.style.SUCCESS(line))
        if failed:
            raise CommandError("The sync failed; see above.")

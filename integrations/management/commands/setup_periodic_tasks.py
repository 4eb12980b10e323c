from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from integrations.schedules import periodic_tasks_sync


class Command(BaseCommand):
    help = (
        "Write the beat schedule of integrations/schedules.py into the database (idempotent). "
        "A database that is not set up yet is migrated first."
    )

    def handle(self, *args, **options):
        # On a fresh checkout the schedule's tables do not exist yet: set the database up
        # rather than fail with "no such table" (what `migrate` would be asked to do anyway).
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            self.stdout.write(
                f"The database has {len(pending)} unapplied migrations: migrating first."
            )
            call_command("migrate", interactive=False, verbosity=0)
        outcome = periodic_tasks_sync()
        for state in ("created", "updated", "removed"):
            for name in outcome[state]:
                self.stdout.write(f"  {state:<8} {name}")
        self.stdout.write(
            self.style.SUCCESS(
                "Beat schedule: "
                + ", ".join(f"{len(names)} {state}" for state, names in outcome.items())
            )
        )

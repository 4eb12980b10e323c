from django.core.management.base import BaseCommand

from integrations import services


class Command(BaseCommand):
    help = "Write the beat schedule of integrations/schedules.py into the database (idempotent)."

    def handle(self, *args, **options):
        outcome = services.periodic_tasks_sync()
        for state in ("created", "updated", "removed"):
            for name in outcome[state]:
                self.stdout.write(f"  {state:<8} {name}")
        self.stdout.write(
            self.style.SUCCESS(
                "Beat schedule: "
                + ", ".join(f"{len(names)} {state}" for state, names in outcome.items())
            )
        )

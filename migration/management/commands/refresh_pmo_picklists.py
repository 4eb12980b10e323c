"""`manage.py refresh_pmo_picklists [--connection <id>]`: copy the PMO Standards sheets' values
(as people keep them in Smartsheet) into the options of every migrated column that sources from
them, for one Smartsheet connection or every connection the migration has loaded with."""

from django.core.management.base import BaseCommand, CommandError

from integrations.connections import http
from integrations.connections.models import Connection
from integrations.connections.providers import smartsheet
from migration import load
from migration.links import ContainerLink


class Command(BaseCommand):
    help = "Copy the PMO Standards values into the picklists of migrated sheets again."

    def add_arguments(self, parser):
        parser.add_argument(
            "--connection", type=int, help="A Smartsheet connection's id (default: every one used)."
        )

    def handle(self, *args, connection=None, **options):
        used = ContainerLink.objects.filter(key="pmo").values_list("connection_id", flat=True)
        chosen = Connection.objects.filter(pk__in=used, provider=smartsheet.SPEC.name)
        if connection is not None:
            chosen = chosen.filter(pk=connection)
            if not chosen.exists():
                raise CommandError(
                    f"Connection {connection} has loaded no PMO Standards (or is not Smartsheet's)."
                )
        for item in chosen.order_by("pk"):
            try:
                result = load.refresh_pmo_picklists(connection=item, hub_workspace=item.workspace)
            except http.ProviderError as exc:
                raise CommandError(f"{item}: {exc.message}") from None
            self.stdout.write(
                f"{item}: {result.columns_updated} column(s) updated in {result.sheets} sheet(s), "
                f"{result.calls} call(s)."
            )

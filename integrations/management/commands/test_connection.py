from django.core.management.base import BaseCommand, CommandError

from integrations.connections import services as connections
from integrations.connections.models import Connection


class Command(BaseCommand):
    help = "Call a connection's provider (its who-am-i) and say whether the connection works."

    def add_arguments(self, parser):
        parser.add_argument("connection_id", type=int)

    def handle(self, *args, connection_id, **options):
        connection = Connection.objects.filter(pk=connection_id).first()
        if connection is None:
            raise CommandError(f"No connection with id {connection_id}.")
        result = connections.connection_test(connection=connection)
        if not result["ok"]:
            raise CommandError(f"{connection}: FAILED — {result['error']}")
        account = f" ({result['account']})" if result.get("account") else ""
        self.stdout.write(
            self.style.SUCCESS(f"{connection}: OK — connected as {result['user']}{account}")
        )

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from config import endpoints
from integrations.accounts import audit
from integrations.accounts import services as accounts
from integrations.accounts.models import Membership, User, Workspace
from integrations.connections import services as connections
from integrations.connections.models import Connection
from integrations.mapping import examples as mapping_examples
from integrations.signals import demo_ready


class Command(BaseCommand):
    help = (
        "Create the demo workspace and its admin user once. The generated password is printed "
        "the first time only; later runs leave both alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", default="admin@example.com")
        parser.add_argument("--workspace", default="Demo")
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    @transaction.atomic
    def handle(self, *args, email, workspace, url, **options):
        password = None
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(email=email, password=password)
            audit.audit_record(action="user.create", target=user, details={"via": "bootstrap_demo"})
        demo = Workspace.objects.filter(slug="demo").first()
        if demo is None:
            demo = accounts.workspace_create(name=workspace, slug="demo")
        if not Membership.objects.filter(workspace=demo, user=user).exists():
            accounts.membership_add(
                workspace=demo, user=user, role=Membership.Role.ADMIN, actor=None
            )
        # Microsoft connects with client credentials, not a consent page: the demo gets the
        # app the Azure AD sandbox knows, for Dataverse (the TimeTracker's jobs) and for the
        # Project Online sandbox's PWA site (the migration's source). OAuth providers are
        # connected on the Connect page.
        for provider, site, label in (
            (Connection.Provider.DATAVERSE, "dataverse_environment", "Dataverse sandbox"),
            (Connection.Provider.PROJECT_ONLINE, "project_online_site", "Project Online sandbox"),
        ):
            if settings.INTEGRATIONS_MODE != "sandbox" or (
                Connection.objects.filter(workspace=demo, provider=provider).exists()
            ):
                continue
            connections.connection_create_client_credentials(
                workspace=demo,
                actor=user,
                tenant_id=endpoints.DATAVERSE_TENANT_ID,
                client_id=endpoints.DATAVERSE_CLIENT_ID,
                client_secret=endpoints.DATAVERSE_CLIENT_SECRET,
                instance_url=settings.PROVIDER_URLS[site],
                label=label,
                provider=provider,
            )
        demo_ready.send(sender=self.__class__, workspace=demo, user=user)
        mapping_examples.load(workspace=demo)

        line = "=" * 72
        self.stdout.write(line)
        self.stdout.write(f"  Integration Hub: {url}")
        self.stdout.write(f"  Admin:           {url}admin/")
        self.stdout.write(f"  Projects:        {url}projects/")
        self.stdout.write(f"  TimeTracker:     {url}timetracker/")
        self.stdout.write(f"  Connections:     {url}integrations/connections/")
        self.stdout.write(f"  Login:           {email}")
        if password:
            self.stdout.write(
                self.style.WARNING(f"  Password:        {password}   (shown this once: keep it)")
            )
        else:
            self.stdout.write(
                f"  Password:        as printed on the first run; to set a new one:\n"
                f"                   .venv/bin/python manage.py changepassword {email}"
            )
        self.stdout.write(line)

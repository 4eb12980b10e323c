"""`manage.py migrate_project_file PATH...`: migrate MS Project files (MPP, MSPDI XML, MPX, XER,
...) into Smartsheet here and now, one project each — a dry run with `--dry-run`, a dry run's
plan for real with `--from-run N` — with progress on stderr and the summary at the end. The
files are kept as uploads of the hub workspace (MIGRATION_MAX_UPLOAD_MB each), so the report,
"Run for real" and resuming work as for Project Online.

    manage.py migrate_project_file plans/*.mpp --dry-run
    manage.py migrate_project_file roadmap.xml --workspace acme --target 3
    manage.py migrate_project_file --from-run 12 [--accept-errors]
"""

from pathlib import Path

from django.core.management.base import CommandError

from integrations.errors import ApplicationError
from integrations.runs import SyncRun
from migration import selectors, services
from migration.management.commands import migrate_project_online
from migration.runs import MigrationRun


class Command(migrate_project_online.Command):
    workspace_provider = selectors.TARGET_PROVIDER  # files need no source connection
    help = "Migrate MS Project files (MPP, MSPDI XML, MPX, XER, ...) into Smartsheet workspaces."
    command_name = "migrate_project_file"

    migrated = "files"

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", metavar="PATH", help="The files to migrate.")
        self.add_run_arguments(parser)
        parser.add_argument("--target", type=int, help="The Smartsheet connection's id.")

    def handle(self, *args, paths, **options):
        if options["from_run"] is not None:
            if paths or options["dry_run"]:
                raise CommandError("--from-run takes no files or --dry-run.")
            run = MigrationRun.objects.filter(
                pk=options["from_run"], source_kind=MigrationRun.Source.FILE
            ).first()
            if run is None:
                raise CommandError(f"No migration run {options['from_run']} of files.")
            return self.run_plan_of(run, options)
        if not paths:
            raise CommandError("Name the files to migrate (MPP, MSPDI XML, MPX, XER, ...).")
        files = []
        for given in paths:
            path = Path(given)
            if not path.is_file():
                raise CommandError(f"{given}: no such file.")
        workspace = self.workspace(options["workspace"])
        target = self.connection(workspace, selectors.TARGET_PROVIDER, options["target"])
        for given in paths:
            path = Path(given)
            try:
                files.append(
                    services.migration_file_add(
                        hub_workspace=workspace,
                        user=None,
                        name=path.name,
                        content=path.read_bytes(),
                    )
                )
            except ApplicationError as exc:
                raise CommandError(exc.message) from None
        return self.start(
            lambda: services.migration_start_files(
                hub_workspace=workspace,
                user=None,
                files=files,
                target_connection=target,
                dry_run=options["dry_run"],
                accept_errors=options["accept_errors"],
                trigger=SyncRun.Trigger.COMMAND,
                queue=False,
            )
        )

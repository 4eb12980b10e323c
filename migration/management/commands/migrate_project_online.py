"""`manage.py migrate_project_online`: list a Project Online connection's projects, or migrate
picked ones (by id or name) into Smartsheet here and now — a dry run with `--dry-run`, a dry
run's plan for real with `--from-run N` — with progress on stderr and the summary at the end.

    manage.py migrate_project_online --list
    manage.py migrate_project_online "Website Redesign" 3f1c… --dry-run
    manage.py migrate_project_online --from-run 12 [--accept-errors]
"""

from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError

from integrations.accounts.models import Workspace
from integrations.connections import http
from integrations.errors import ApplicationError
from integrations.runs import SyncRun
from migration import pipeline, selectors, services
from migration.runs import MigrationRun
from migration.sources.project_online import list_projects


class Command(BaseCommand):
    help = "Migrate Project Online projects into Smartsheet workspaces (or list them)."
    command_name = "migrate_project_online"
    migrated = "projects"  # what a run migrates, as the options' help names it

    def add_arguments(self, parser):
        parser.add_argument(
            "projects", nargs="*", help="Projects to migrate: their ids or exact names."
        )
        parser.add_argument("--list", action="store_true", help="List the projects and stop.")
        self.add_run_arguments(parser)
        parser.add_argument("--source", type=int, help="The Project Online connection's id.")
        parser.add_argument("--target", type=int, help="The Smartsheet connection's id.")

    def add_run_arguments(self, parser) -> None:
        """How a run goes and in which workspace: the options of both migration commands."""
        parser.add_argument(
            "--dry-run", action="store_true", help="Plan and report only; write nothing."
        )
        parser.add_argument(
            "--from-run", type=int, metavar="N", help="Run dry run N's plan for real."
        )
        parser.add_argument(
            "--accept-errors",
            action="store_true",
            help=f"Migrate {self.migrated} whose plan has errors too (the rows in error are left out).",
        )
        parser.add_argument("--workspace", help="The hub workspace (id or slug).")

    def handle(self, *args, projects, **options):
        if options["from_run"] is not None:
            if projects or options["dry_run"] or options["list"]:
                raise CommandError("--from-run takes no projects, --dry-run or --list.")
            run = MigrationRun.objects.filter(pk=options["from_run"]).first()
            if run is None:
                raise CommandError(f"No migration run {options['from_run']}.")
            return self.run_plan_of(run, options)

        workspace = self.workspace(options["workspace"])
        source = self.connection(workspace, selectors.SOURCE_PROVIDER, options["source"])
        try:
            available = list_projects(source)
        except (ApplicationError, http.ProviderError) as exc:
            raise CommandError(f"Could not list the projects: {exc.message}") from None
        if options["list"]:
            for project in available:
                self.stdout.write(f"{project.id}  {project.name}  (modified {project.modified})")
            self.stdout.write(f"{len(available)} project(s).")
            return
        if not projects:
            raise CommandError("Name the projects to migrate (ids or names); --list shows them.")
        picked = [self.pick(name, available) for name in projects]
        target = self.connection(workspace, selectors.TARGET_PROVIDER, options["target"])
        return self.start(
            lambda: services.migration_start(
                hub_workspace=workspace,
                user=None,
                source_connection=source,
                target_connection=target,
                project_ids=picked,
                dry_run=options["dry_run"],
                accept_errors=options["accept_errors"],
                trigger=SyncRun.Trigger.COMMAND,
                queue=False,
            )
        )

    # --- choosing ------------------------------------------------------------------------------

    # Without --workspace, the only hub workspace with a usable connection of this provider.
    workspace_provider = selectors.SOURCE_PROVIDER

    def workspace(self, given: str | None) -> Workspace:
        if given:
            found = Workspace.objects.filter(
                **({"pk": int(given)} if given.isdigit() else {"slug": given})
            ).first()
            if found is None:
                raise CommandError(f"No hub workspace {given!r}.")
            return found
        ids = set(
            selectors.Connection.objects.filter(
                provider=self.workspace_provider, status__in=selectors.USABLE
            ).values_list("workspace_id", flat=True)
        )
        if len(ids) != 1:
            raise CommandError(
                "Say which hub workspace (--workspace id or slug): "
                + ("none has" if not ids else f"{len(ids)} have")
                + f" a {self.label(self.workspace_provider)} connection."
            )
        return Workspace.objects.get(pk=ids.pop())

    @staticmethod
    def label(provider: str) -> str:
        return "Project Online" if provider == selectors.SOURCE_PROVIDER else "Smartsheet"

    def connection(self, workspace: Workspace, provider: str, given: int | None):
        usable = selectors.connections_of(workspace=workspace, provider=provider)
        label = self.label(provider)
        if given is not None:
            found = usable.filter(pk=given).first()
            if found is None:
                raise CommandError(
                    f"Connection {given} is not a usable {label} connection of {workspace}."
                )
            return found
        found = list(usable[:2])
        if len(found) != 1:
            option = "--source" if provider == selectors.SOURCE_PROVIDER else "--target"
            raise CommandError(
                f"{workspace} has {'no' if not found else 'several'} usable {label} "
                f"connection{'s' if found else ''}"
                + (f": say which with {option} id." if found else "; connect it first.")
            )
        return found[0]

    def pick(self, given: str, available) -> str:
        by_id = [p for p in available if str(p.id).lower() == given.lower()]
        if by_id:
            return str(by_id[0].id)
        by_name = [p for p in available if (p.name or "").strip().lower() == given.strip().lower()]
        if len(by_name) == 1:
            return str(by_name[0].id)
        if len(by_name) > 1:
            raise CommandError(
                f"{len(by_name)} projects are named {given!r}: pick one by id ("
                + ", ".join(str(p.id) for p in by_name)
                + ")."
            )
        raise CommandError(f"No project {given!r} in Project Online; --list shows them.")

    # --- running -------------------------------------------------------------------------------

    def start(self, make: Callable[[], MigrationRun]) -> None:
        """The run `make` starts, followed to its end; a refusal is the command's error."""
        try:
            run = make()
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.follow(run)

    def run_plan_of(self, run: MigrationRun, options) -> None:
        """Dry run `run`'s plan, run for real (--from-run)."""
        self.start(
            lambda: services.migration_run_from_plan(
                run=run,
                user=None,
                accept_errors=options["accept_errors"],
                trigger=SyncRun.Trigger.COMMAND,
                queue=False,
            )
        )

    def follow(self, run: MigrationRun) -> None:
        kind = "Dry run" if run.dry_run else "Migration"
        self.stderr.write(f"{kind} {run.pk}: {len(run.project_ids)} project(s).")
        last: dict[tuple[str, str], str] = {}

        def progress(name, stage, done, total, state):
            key = (name, stage)
            line = f"  {name}: {stage} {done}/{total}" if total else f"  {name}: {stage}"
            if state != "running":
                line += f" — {state}"
            # Each stage's start, end, and every tenth of the way.
            mark = f"{state}:{(10 * done // total) if total else 0}"
            if last.get(key) != mark:
                last[key] = mark
                self.stderr.write(line)

        run = pipeline.execute(run.pk, listener=progress) or MigrationRun.objects.get(pk=run.pk)
        for pid, result in run.results.items():
            line = f"{result.get('name') or pid} ({pid}): "
            if result.get("left_out"):
                line += result["left_out"]
            elif run.dry_run:
                sheets = ", ".join(f"{s['name']} ({s['rows']} rows)" for s in result["sheets"])
                line += f"workspace {result.get('sheet_workspace_name')!r}: {sheets}"
            else:
                line += (
                    f"workspace {result.get('sheet_workspace_name')!r} "
                    f"{result.get('permalink') or ''} — {result.get('rows_created', 0)} rows "
                    f"created, {result.get('rows_updated', 0)} updated"
                )
            line += f"; {result.get('errors', 0)} errors, {result.get('warnings', 0)} warnings"
            self.stdout.write(line)
        for error in run.errors:
            self.stdout.write(f"  ! {error['item']}: {error['message']}")
        outcome = f"{kind} {run.pk} {run.get_status_display().lower()}: {run.message}"
        if run.status == SyncRun.Status.FAILED:
            raise CommandError(outcome)
        self.stdout.write(self.style.SUCCESS(outcome))
        if run.dry_run:
            self.stdout.write(
                f"Report: /migration/runs/{run.pk}/ · run it for real: "
                f"manage.py {self.command_name} --from-run {run.pk}"
            )

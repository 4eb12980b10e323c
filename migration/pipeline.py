"""One migration run, as the `migration.run` task does it:

    extract each picked project (Project Online)       -> Extract   stage "extract"
    transform them all (the seed's rules, pure)         -> Plan      stage "transform"
    keep the plan and its report on the run             (a dry run stops here)
    load the plan into Smartsheet (idempotent)          stages "workspace", "sheets", "rows",
                                                        "predecessors"
    the load's warnings and the end summary             stage "report"

Progress is kept per project and stage on the run row (`stages`), and the run's bar is their
mean, so the page shows where each project is. A project that cannot be read, or whose plan
has errors (unless the run accepts them), is left out and named in the run's errors: the run
ends `partial` (some went through) or `failed` (none did), never an empty success. A run that
stopped (its worker died, a provider gave up) is started again with
services.migration_resume: the load recorded every Smartsheet id it made, so the new run
updates what the old one wrote instead of writing it twice."""

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.utils import timezone

from integrations.connections import http
from integrations.errors import ApplicationError
from integrations.runs import RunRecorder, SyncRun, claim
from migration import services
from migration.load import load_plan
from migration.model import Extract, Issue, Plan
from migration.runs import MigrationIssue, MigrationRun
from migration.sources import file as file_source
from migration.sources.project_online import extract_project, list_projects
from migration.transform import TransformSettings, plan_migration

logger = logging.getLogger(__name__)

LOAD_STAGES = ("workspace", "sheets", "rows", "predecessors")


class Stopped(Exception):
    """The run cannot go on; its message says why (for the run's summary)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Stages:
    """Progress per project and stage, written to the run row through its recorder. The run's
    bar is the mean over every project's stages, so it never goes back."""

    def __init__(
        self, run: MigrationRun, recorder: RunRecorder, names: dict[str, str], listener=None
    ):
        self.run, self.rec, self.names, self.listener = run, recorder, names, listener
        run.stages = {
            pid: {stage: {"done": 0, "total": 0, "state": "waiting"} for stage in run.stage_names}
            for pid in map(str, run.project_ids)
        }
        self.rec.pending["stages"] = run.stages
        self.rec.progress(done=0, total=100 * len(run.stages) * len(run.stage_names))

    def _cell(self, project_id: str, stage: str) -> dict:
        return self.run.stages.setdefault(str(project_id), {}).setdefault(
            stage, {"done": 0, "total": 0, "state": "waiting"}
        )

    def _overall(self) -> int:
        done = 0
        for stages in self.run.stages.values():
            for cell in stages.values():
                if cell["state"] in ("done", "failed", "skipped"):
                    done += 100
                elif cell["total"]:
                    done += min(100, 100 * cell["done"] // cell["total"])
        return done

    def update(
        self, project_id: str, stage: str, done: int, total: int, *, state: str = "running"
    ) -> None:
        cell = self._cell(project_id, stage)
        cell.update(done=max(0, int(done)), total=max(0, int(total)), state=state)
        name = self.names.get(str(project_id), str(project_id))
        self.run.stage = f"{name}: {self.run.stage_labels.get(stage, stage)}"[:100]
        self.run.stage_done, self.run.stage_total = cell["done"], cell["total"]
        self.rec.pending.update(
            stages=self.run.stages, stage=self.run.stage, stage_total=self.run.stage_total
        )
        self.rec.progress(done=self._overall())
        if state != "running":
            self.rec.flush(force=True)
        if self.listener is not None:
            self.listener(name, stage, cell["done"], cell["total"], state)

    def start(self, project_id: str, stage: str, total: int = 0) -> None:
        self.update(project_id, stage, 0, total)

    def finish(self, project_id: str, stage: str, *, state: str = "done") -> None:
        cell = self._cell(project_id, stage)
        total = cell["total"] or cell["done"]
        self.update(project_id, stage, total, total, state=state)

    def skip_rest(self, project_id: str, *, state: str = "skipped") -> None:
        """A project left out: its stages not yet done will not be."""
        for stage, cell in self.run.stages.get(str(project_id), {}).items():
            if cell["state"] in ("waiting", "running"):
                self.finish(project_id, stage, state=state)

    def load_progress(self, project_id: str, stage: str, done: int, total: int) -> None:
        """The load's callback. The workspace comes before the sheets and the sheets before the
        rows, so a later stage begun means those are done; rows and predecessors overlap (a
        row's predecessors go as soon as their rows exist), so each is done when it says so.
        A stage once done stays done: the bar never goes back."""
        project_id = str(project_id)
        if stage in LOAD_STAGES:
            for earlier in LOAD_STAGES[: min(LOAD_STAGES.index(stage), 2)]:
                if self._cell(project_id, earlier)["state"] != "done":
                    self.finish(project_id, earlier)
        if self._cell(project_id, stage)["state"] == "done":
            return
        self.update(
            project_id, stage, done, total, state="done" if done >= total > 0 else "running"
        )


@dataclass
class Report:
    """The run's findings, each with its project (the report's rows)."""

    owner: dict[str, str] = field(default_factory=dict)  # entity id -> project id
    items: list[tuple[str, Issue]] = field(default_factory=list)

    def index(self, extract: Extract, pid: str) -> None:
        self.owner[pid] = pid
        self.owner[str(extract.project.id)] = pid
        for records in (extract.tasks, extract.resources, extract.assignments):
            for record in records:
                self.owner.setdefault(str(record.id), pid)
        for link in extract.links:
            self.owner.setdefault(f"{link.predecessor_task_id}->{link.successor_task_id}", pid)

    def project_of(self, issue: Issue) -> str:
        entity_id = str(issue.entity_id or "")
        if entity_id in self.owner:
            return self.owner[entity_id]
        # A link or a sheet may be named by more than an id ("<pred>-><succ>", "<project>:tasks").
        for part in entity_id.replace("->", " ").replace("/", " ").replace(":", " ").split():
            if part in self.owner:
                return self.owner[part]
        return ""

    def add(self, issues, *, project_id: str | None = None) -> list[Issue]:
        """Add findings not already in the report (the transform may pass the extract's on)."""
        seen = {_key(issue) for _, issue in self.items}
        added = []
        for issue in issues:
            if _key(issue) in seen:
                continue
            seen.add(_key(issue))
            self.items.append((project_id or self.project_of(issue), issue))
            added.append(issue)
        return added

    def errors_by_project(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for pid, issue in self.items:
            if issue.severity == "error":
                counts[pid] = counts.get(pid, 0) + 1
        return counts


def _key(issue: Issue) -> tuple:
    return (
        issue.severity,
        issue.stage,
        issue.entity,
        issue.entity_id,
        issue.field,
        issue.rule,
        issue.value,
    )


def execute(run_id: int, *, listener=None) -> MigrationRun | None:
    """Do one queued migration run (the task's and the command's body). `listener(project
    name, stage, done, total, state)` hears of every step (the command prints them)."""
    if not claim(MigrationRun, run_id):
        return None
    run = MigrationRun.objects.select_related(
        "workspace", "source_connection", "target_connection", "runs_plan"
    ).get(pk=run_id)
    with RunRecorder(run) as recorder:
        try:
            return Migration(run, recorder, listener).go()
        except Stopped as exc:
            return recorder.finish(status=SyncRun.Status.FAILED, message=exc.message)
        except (ApplicationError, http.ProviderError) as exc:
            return recorder.finish(
                status=SyncRun.Status.FAILED,
                message=f"Stopped: {exc.message} Start the run again to resume it: what was "
                "written is updated, not written twice.",
            )
        except Exception:
            logger.exception("migration run %s failed", run_id)
            return recorder.finish(
                status=SyncRun.Status.FAILED,
                message="The run stopped on an unexpected error; it is logged with the run id. "
                "Start it again to resume it.",
            )


class Migration:
    def __init__(self, run: MigrationRun, recorder: RunRecorder, listener=None):
        self.run, self.rec = run, recorder
        self.report = Report()
        self.left_out: dict[str, str] = {}  # project id -> why
        self.names = {pid: (run.sources.get(pid) or {}).get("name") or pid for pid in self.pids}
        self.picked = {pid.lower(): pid for pid in self.pids}
        for pid in self.pids:  # a file's project id, known once it was read
            read_as = (run.sources.get(pid) or {}).get("project_id")
            if read_as:
                self.picked[str(read_as).lower()] = pid
        run.results, run.issue_errors, run.issue_warnings = {}, 0, 0
        recorder.pending.update(results={}, issue_errors=0, issue_warnings=0)
        self.stages = Stages(run, recorder, self.names, listener)

    @property
    def pids(self) -> list[str]:
        return [str(pid) for pid in self.run.project_ids]

    def source(self):
        if self.run.source_connection is None:
            raise Stopped("The Project Online connection of this run is gone; add it again.")
        return self.run.source_connection

    def target(self):
        if self.run.target_connection is None:
            raise Stopped("The Smartsheet connection of this run is gone; add it again.")
        return self.run.target_connection

    def leave_out(self, pid: str, why: str, *, state: str = "skipped") -> None:
        self.left_out[pid] = why
        self.rec.count("failed")
        self.rec.error(f"project {self.names.get(pid, pid)}", why)
        self.stages.skip_rest(pid, state=state)

    # --- the stages -------------------------------------------------------------------------

    @property
    def from_files(self) -> bool:
        return self.run.source_kind == MigrationRun.Source.FILE

    def go(self) -> MigrationRun:
        if self.run.runs_plan_id is not None or (self.run.plan and not self.run.dry_run):
            plan = self.planned_files() if self.from_files else self.planned()
        elif self.from_files:
            plan = self.transform(self.read_files())
        else:
            plan = self.plan()
        if self.run.dry_run:
            return self.end(plan)
        plan = self.loadable(plan)
        if plan.workspaces:
            self.load(plan)
        return self.end(plan)

    def pid(self, project_id) -> str:
        """A project's id as picked (a source may give it in another case)."""
        return self.picked.get(str(project_id).lower(), str(project_id))

    def plan(self) -> Plan:
        connection = self.source()
        # The projects' names first, so that progress names them from the start.
        for project in list_projects(connection):
            pid = self.pid(project.id)
            if pid in self.names:
                self.names[pid] = project.name or pid
                self.run.sources[pid] = {"name": project.name, "modified": None}
        self.rec.pending["sources"] = self.run.sources
        extracts = []
        for pid in self.pids:
            self.stages.start(pid, "extract")

            def progress(*args, _pid=pid, **kwargs):
                # (done, total), whatever the source puts before them.
                numbers = [a for a in args if isinstance(a, int | float)]
                if len(numbers) >= 2:
                    self.stages.update(_pid, "extract", numbers[-2], numbers[-1])

            try:
                extract = extract_project(connection, pid, progress=progress)
            except (ApplicationError, http.ProviderError) as exc:
                self.leave_out(pid, f"Could not be read: {exc.message}", state="failed")
                continue
            self.names[pid] = extract.project.name or pid
            self.run.sources[pid] = {
                "name": extract.project.name,
                "modified": extract.project.modified_date,
            }
            self.report.index(extract, pid)
            self.report.add(extract.issues, project_id=pid)
            extracts.append(extract)
            self.stages.finish(pid, "extract")
        self.rec.pending["sources"] = self.run.sources
        return self.transform(extracts)

    def transform(self, extracts: list[Extract]) -> Plan:
        if not extracts:
            raise Stopped(
                f"No project could be read from {self.source_label}: "
                + "; ".join(f"{self.names.get(p, p)}: {why}" for p, why in self.left_out.items())
            )
        done = [self.pid(extract.project.id) for extract in extracts]
        for pid in done:
            self.stages.start(pid, "transform")
        plan = plan_migration(
            extracts, settings=TransformSettings.from_settings(hub_workspace=self.run.workspace)
        )
        self.report.add(plan.issues)
        # The plan keeps the whole report, so "Run for real" starts from both.
        plan.issues = [issue for _, issue in self.report.items]
        self.run.plan, self.run.plan_made_at = plan.to_json(), timezone.now()
        self.rec.pending.update(plan=self.run.plan, plan_made_at=self.run.plan_made_at)
        for pid in done:
            self.stages.finish(pid, "transform")
        self.store_report()
        return plan

    @property
    def source_label(self) -> str:
        return "the files" if self.from_files else "Project Online"

    def read_files(self) -> list[Extract]:
        """Each of the run's MS Project files read (mpxj, in this worker's JVM) into an
        Extract. A file that cannot be read, or that holds a project another file of the run
        holds too, is left out and named."""
        files = services.run_files(self.run)
        extracts, seen = [], {}
        for pid in self.pids:
            self.stages.start(pid, "extract")
            row = files.get(pid)
            if row is None:
                self.leave_out(pid, "The file is gone; upload it again.", state="failed")
                continue
            self.names[pid] = row.name

            def progress(_project_id, _stage, done, total, _pid=pid):
                self.stages.update(_pid, "extract", done, total)

            try:
                extract = _read(row, progress)
            except ApplicationError as exc:
                self.leave_out(pid, f"Could not be read: {exc.message}", state="failed")
                continue
            project_id = str(extract.project.id).lower()
            if project_id in seen:
                self.leave_out(
                    pid,
                    f"Holds the same project as {self.names.get(seen[project_id])} (the same "
                    "project GUID or file name): migrate one of them.",
                    state="failed",
                )
                continue
            seen[project_id] = pid
            self.picked[project_id] = pid
            self.run.sources[pid] = {
                "name": row.name,
                "project_name": extract.project.name,
                "project_id": extract.project.id,
                "sha256": row.sha256,
                "modified": extract.project.modified_date,
            }
            self.report.index(extract, pid)
            self.report.add(extract.issues, project_id=pid)
            extracts.append(extract)
            self.stages.finish(pid, "extract")
        self.rec.pending["sources"] = self.run.sources
        return extracts

    def planned_files(self) -> Plan:
        """A real run of a file dry run's plan: the plan as it was, for the files still there
        (a file is never changed: a changed one is a new upload and needs a new dry run)."""
        if not self.run.plan:
            raise Stopped("This run has no plan to load; start a dry run first.")
        files = services.run_files(self.run)
        for pid in self.pids:
            self.stages.start(pid, "extract")
            row = files.get(pid)
            planned_from = (self.run.sources.get(pid) or {}).get("sha256")
            if row is None:
                self.leave_out(pid, "The file is gone; upload it again.", state="failed")
            elif planned_from and row.sha256 != planned_from:
                self.leave_out(pid, "The file changed since the plan was made.", state="failed")
            else:
                self.stages.finish(pid, "extract")
                self.stages.finish(pid, "transform")
        return self.stored_plan()

    def planned(self) -> Plan:
        """A real run of a dry run's plan: the plan as it was, once the projects are known not
        to have changed in Project Online since."""
        if not self.run.plan:
            raise Stopped("This run has no plan to load; start a dry run first.")
        for pid in self.pids:
            self.stages.start(pid, "extract")
        modified = {self.pid(p.id): p.modified for p in list_projects(self.source())}
        for pid in self.pids:
            was = (self.run.sources.get(pid) or {}).get("modified")
            now = modified.get(pid)
            if pid not in modified:
                self.leave_out(pid, "No longer in Project Online.", state="failed")
            elif _text(now) != _text(was):
                self.leave_out(
                    pid,
                    f"Changed in Project Online since the plan was made (modified {_text(now)}, "
                    f"planned from {_text(was)}): start a new dry run.",
                    state="failed",
                )
            else:
                self.stages.finish(pid, "extract")
                self.stages.finish(pid, "transform")
        return self.stored_plan()

    def stored_plan(self) -> Plan:
        """The run's plan as it was made, its report (the dry run's, or its own) stored; a run
        whose every project was left out stops here."""
        plan = Plan.from_json(self.run.plan)
        if self.run.runs_plan_id is not None:
            self.copy_report(self.run.runs_plan_id)
        else:
            self.report.add(plan.issues)
            self.store_report()
        if len(self.left_out) == len(self.pids):
            raise Stopped("Nothing was written: " + "; ".join(self.left_out.values()))
        return plan

    def loadable(self, plan: Plan) -> Plan:
        """The plan without the projects left out, and without those whose plan has errors
        unless the run accepts them."""
        if not self.run.accept_errors:
            for pid, count in self.report.errors_by_project().items():
                if pid and pid not in self.left_out:
                    self.leave_out(
                        pid,
                        f"Not migrated: its plan has {count} error{'s' if count != 1 else ''} "
                        "(see the report). Fix them in Project Online, or run it accepting "
                        "them (the rows in error are not migrated).",
                    )
        return Plan(
            workspaces=[w for w in plan.workspaces if self.pid(w.project_id) not in self.left_out],
            pmo=plan.pmo,
            issues=plan.issues,
        )

    def load(self, plan: Plan) -> None:
        for workspace in plan.workspaces:
            self.stages.start(self.pid(workspace.project_id), "workspace")
        result = load_plan(
            plan,
            connection=self.target(),
            hub_workspace=self.run.workspace,
            progress=lambda project_id, *rest: self.stages.load_progress(
                self.pid(project_id), *rest
            ),
        )
        for project_id, outcome in project_outcomes(result).items():
            pid = self.pid(project_id)
            self.rec.count("created", outcome.get("rows_created", 0))
            self.rec.count("updated", outcome.get("rows_updated", 0))
            found = outcome.pop("warnings", [])
            services.issues_add(
                run=self.run,
                issues=[(pid, issue) for issue in self.report.add(found, project_id=pid)],
            )
            self.run.results[pid] = {**self.run.results.get(pid, {}), **outcome}
            refused = [issue for issue in found if issue.severity == "error"]
            if refused:
                # Smartsheet refused part of it: the project is not whole, say where it stopped.
                self.leave_out(
                    pid,
                    f"Smartsheet refused part of it: {refused[0].message}"
                    + (
                        f" (and {len(refused) - 1} more, see the report)"
                        if len(refused) > 1
                        else ""
                    )
                    + " Start the run again once it is fixed: what was written is kept.",
                    state="failed",
                )
                continue
            for stage in LOAD_STAGES:
                if self.run.stages[pid][stage]["state"] != "done":
                    self.stages.finish(pid, stage)

    def end(self, plan: Plan) -> MigrationRun:
        names = {self.pid(w.project_id): w for w in plan.workspaces}
        for pid in self.pids:
            if pid in self.left_out:
                continue
            self.stages.start(pid, "report")
            workspace = names.get(pid)
            sheets = [
                {"key": s.key, "name": s.name, "rows": len(s.rows)}
                for s in (workspace.sheets if workspace else [])
            ]
            self.run.results[pid] = {
                "name": self.names.get(pid, pid),
                "sheet_workspace_name": workspace.name if workspace else "",
                "sheets": sheets,
                **self.run.results.get(pid, {}),
            }
        for pid, why in self.left_out.items():
            self.run.results[pid] = {
                **self.run.results.get(pid, {}),
                "name": self.names.get(pid, pid),
                "left_out": why,
            }
        counts = self.count_issues()
        for pid in self.pids:
            self.run.results[pid]["errors"] = counts.get((pid, "error"), 0)
            self.run.results[pid]["warnings"] = counts.get((pid, "warning"), 0)
            if pid not in self.left_out:
                self.stages.finish(pid, "report")
        self.rec.pending["results"] = self.run.results
        if self.left_out and len(self.left_out) == len(self.pids):
            return self.rec.finish(status=SyncRun.Status.FAILED, message=self.closing())
        return self.rec.finish(message=self.closing())

    # --- the report ---------------------------------------------------------------------------

    def store_report(self) -> None:
        services.issues_replace(run=self.run, issues=self.report.items)
        self.count_issues()

    def copy_report(self, dry_run_id: int) -> None:
        MigrationIssue.objects.filter(run=self.run).delete()
        rows = list(MigrationIssue.objects.filter(run_id=dry_run_id).order_by("pk"))
        for row in rows:
            self.report.items.append((row.project_id, _issue(row)))
            row.pk, row.run = None, self.run
        MigrationIssue.objects.bulk_create(rows, batch_size=500)
        self.count_issues()

    def count_issues(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for pid, issue in self.report.items:
            counts[(pid, issue.severity)] = counts.get((pid, issue.severity), 0) + 1
        self.run.issue_errors = sum(v for (_, s), v in counts.items() if s == "error")
        self.run.issue_warnings = sum(v for (_, s), v in counts.items() if s == "warning")
        self.rec.pending.update(
            issue_errors=self.run.issue_errors, issue_warnings=self.run.issue_warnings
        )
        return counts

    def closing(self) -> str:
        summary = self.run.summary()
        if self.run.dry_run:
            what = "Dry run: nothing was written to Smartsheet."
        else:
            made = [r for r in self.run.results.values() if r.get("sheet_workspace_id")]
            what = f"{len(made)} Smartsheet workspace{'s' if len(made) != 1 else ''} written."
        left = "".join(f" {self.names.get(pid, pid)}: {why}" for pid, why in self.left_out.items())
        return f"{what} {summary}.{left}"


def _read(row, progress) -> Extract:
    """An uploaded file read from a temporary copy (mpxj reads paths), named as uploaded."""
    suffix = Path(row.name).suffix[:10]
    with tempfile.NamedTemporaryFile(suffix=suffix) as copy:
        copy.write(bytes(row.content))
        copy.flush()
        return file_source.read_file(copy.name, name=row.name, progress=progress)


def project_outcomes(result) -> dict[str, dict]:
    """The load's result per project, as the run's summary keeps it."""
    projects = getattr(result, "projects", result)
    items = projects.items() if isinstance(projects, dict) else ((None, p) for p in projects)
    outcomes = {}
    for key, project in items:
        pid = str(getattr(project, "project_id", None) or key)
        sheets = getattr(project, "sheet_ids", None) or getattr(project, "sheets", None) or {}
        outcomes[pid] = {
            "sheet_workspace_id": getattr(project, "sheet_workspace_id", None)
            or getattr(project, "workspace_id", None),
            "permalink": getattr(project, "permalink", "") or "",
            "sheet_ids": {str(k): v for k, v in dict(sheets).items()},
            "rows_created": int(getattr(project, "rows_created", 0) or 0),
            "rows_updated": int(getattr(project, "rows_updated", 0) or 0),
            "warnings": list(getattr(project, "issues", None) or []),
        }
    return outcomes


def _issue(row: MigrationIssue) -> Issue:
    return Issue(
        severity=row.severity,
        stage=row.stage,
        entity=row.entity,
        entity_id=row.entity_id,
        field=row.field,
        rule=row.rule,
        value=row.value,
        message=row.message,
    )


def _text(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")

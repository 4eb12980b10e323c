"""SyncRun: the run log every sync subclasses (projects, timetracker, crm, migration).

A run is created `queued` by the trigger (button, API, schedule, login), claimed `running` by
the worker, and finished `succeeded`, `partial` (some items failed, the rest went through)
or `failed` (nothing trustworthy happened, with the reason). Counts, API calls and retries,
progress and capped per-item errors live on the row, so the page that started a run polls it.

`RunRecorder` is the worker's side (a context manager around the run's work): it counts,
collects errors, tracks API calls and retries, and writes progress to the row at most a few
times a second (the page polls every 500 ms). Progress has two levels: `progress_done/total`
over the whole run (the bar, which never goes back) and `stage_done/total` within the current
stage (the "Writing rows 3/30" a person reads). While the HTTP layer waits to retry a provider
(429, 5xx), the row says so at once (`retry_reason`, `retry_at`): an outage would otherwise
look like a bar that stopped.

A run whose worker died stays `running` with no word from it. The stale-run sweep (`sweep`, a
beat task every minute) closes every run of every sync that has been silent for
`RUN_STALE_AFTER` (or that no worker took up within it) as failed with the reason, and queues a
scheduled one again: nobody is watching a schedule's run to press the button once more. The
close is a conditional update on the heartbeat, so a run that wrote since it was read is left
alone; and a closed run's worker, should it be alive after all, stops at its next write.
"""

import logging
import time
from datetime import timedelta

from celery import current_app
from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from integrations.accounts.audit import audit_record
from integrations.accounts.models import WorkspaceOwned
from integrations.connections import http
from integrations.errors import Conflict
from integrations.redaction import redact_text

logger = logging.getLogger(__name__)

MAX_ERRORS = 200  # per run: enough to act on, bounded for a run with a million failures
PROGRESS_EVERY = 0.25  # seconds between progress writes


class SyncRun(WorkspaceOwned):
    class Trigger(models.TextChoices):
        BUTTON = "button", "Button"
        API = "api", "API"
        SCHEDULE = "schedule", "Schedule"
        LOGIN = "login", "Login"
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Command"
        APPROVAL = "approval", "Approval"  # writes a change a person approved in the review queue

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partly done"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    # The Celery task (by name) that does a run of this kind, given the run's id: the sweep
    # queues a scheduled run again through it. Every subclass names its own.
    run_task = ""

    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    direction = models.CharField(max_length=20)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    task_id = models.CharField(max_length=64, blank=True)

    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    unmapped = models.PositiveIntegerField(default=0)
    conflicts = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(
        default=0, help_text="Writes held in the review queue for a person to approve."
    )
    failed = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)

    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    stage = models.CharField(max_length=100, blank=True)
    stage_done = models.PositiveIntegerField(default=0)
    stage_total = models.PositiveIntegerField(default=0)
    retry_reason = models.CharField(
        max_length=40, blank=True, help_text="While a provider call waits to be retried: why."
    )
    retry_at = models.DateTimeField(
        null=True, blank=True, help_text="…and when its next attempt goes out."
    )

    message = models.TextField(blank=True, help_text="Summary, or why the run failed.")
    errors = models.JSONField(default=list, blank=True, help_text="Per-item errors (capped).")
    error_count = models.PositiveIntegerField(default=0)
    overwrites = models.JSONField(
        default=list, blank=True, help_text="Last-write-wins decisions (capped)."
    )

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.direction} run {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def duration(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return round((end - self.started_at).total_seconds(), 2)

    @property
    def retry_in(self) -> float | None:
        """Seconds until the next attempt of a call being retried, while the run is active."""
        if not self.retry_reason or self.retry_at is None or not self.is_active:
            return None
        return round(max(0.0, (self.retry_at - timezone.now()).total_seconds()), 1)

    @property
    def percent(self) -> int:
        if self.status in (self.Status.SUCCEEDED, self.Status.PARTIAL):
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))

    def summary(self) -> str:
        parts = [
            f"{self.created} created",
            f"{self.updated} updated",
            f"{self.unchanged} unchanged",
        ]
        if self.unmapped:
            parts.append(f"{self.unmapped} unmapped")
        if self.conflicts:
            parts.append(f"{self.conflicts} conflicts")
        if self.held:
            parts.append(f"{self.held} waiting for approval")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return ", ".join(parts)


# Fields that describe one attempt (its state, counts, progress, times); the others say what to
# run (workspace, trigger, direction, requested_by and each subclass's own, such as the
# project), and a run queued again copies those.
ATTEMPT_FIELDS = frozenset(field.name for field in SyncRun._meta.local_fields) - {
    "workspace",
    "trigger",
    "direction",
    "requested_by",
}


class RunClosed(BaseException):
    """The run was closed while its worker still worked on it (the stale-run sweep found it
    silent). A BaseException, like asyncio's CancelledError: the syncs' `except Exception`
    handlers, which close a run as failed, must not catch it; RunRecorder ends the work."""


class RunRecorder:
    """Counts and progress of one run, flushed to its row. Every write is a conditional
    update of this row while it is running, so the admin or a stale-run sweep never races it:
    once the run is closed, the next write raises RunClosed and the work stops (its effects
    are as if the worker had died there, which every sync is written to survive)."""

    COUNTS = ("created", "updated", "unchanged", "unmapped", "conflicts", "held", "failed")

    def __init__(self, run: SyncRun):
        self.run = run
        self.model = type(run)
        self.pending: dict = {}
        self._last_flush = 0.0
        self._tracking = http.track()
        self._listening = http.on_retry(self.retrying)
        self.stats = http.CallStats()
        self.closed = False  # by someone else (the sweep): nothing more is written
        # A resumed run adds to what its first attempt already counted.
        self._base_calls, self._base_retries = run.api_calls, run.retries

    def __enter__(self) -> "RunRecorder":
        self.stats = self._tracking.__enter__()
        self._listening.__enter__()
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        self._listening.__exit__(exc_type, exc, traceback)
        self._tracking.__exit__(exc_type, exc, traceback)
        if exc_type is not None and issubclass(exc_type, RunClosed):
            logger.warning("%s: stopped, the run was closed while it ran", self.run)
            return True  # the task ends quietly; the row already says why
        return False

    def retrying(self, reason: str, seconds: float) -> None:
        """Called by the HTTP layer before it sleeps between attempts: written at once, since
        nothing else reaches the row while the worker sleeps."""
        self.run.retry_reason = reason[:40]
        self.run.retry_at = timezone.now() + timedelta(seconds=seconds)
        self.pending.update(retry_reason=self.run.retry_reason, retry_at=self.run.retry_at)
        self.flush(force=True)

    def _retry_over(self) -> None:
        # Any progress after a retry note means the retried call has come back (through or
        # not): the note no longer holds.
        if self.run.retry_reason:
            self.run.retry_reason, self.run.retry_at = "", None
            self.pending.update(retry_reason="", retry_at=None)

    def count(self, name: str, n: int = 1) -> None:
        setattr(self.run, name, getattr(self.run, name) + n)
        self.pending[name] = getattr(self.run, name)

    def error(self, item: str, message: str) -> None:
        self.run.error_count += 1
        self.pending["error_count"] = self.run.error_count
        if len(self.run.errors) < MAX_ERRORS:
            self.run.errors.append({"item": item, "message": redact_text(message)[:500]})
            self.pending["errors"] = self.run.errors

    def overwrite(self, item: str, message: str) -> None:
        if len(self.run.overwrites) < MAX_ERRORS:
            self.run.overwrites.append(
                {"item": item, "message": message[:500], "at": timezone.now().isoformat()}
            )
            self.pending["overwrites"] = self.run.overwrites

    def progress(
        self,
        *,
        done: int | None = None,
        total: int | None = None,
        add: int = 0,
        stage: str | None = None,
        stage_total: int | None = None,
    ) -> None:
        """Move the run's bar (`total` units in all, `add` more done) and, with `stage`, begin
        a stage of `stage_total` items (0: the stage does not count its own)."""
        if total is not None:
            self.run.progress_total = total
            self.pending["progress_total"] = total
        if done is not None:
            self.run.progress_done = done
        if stage is not None:
            self.run.stage, self.run.stage_done = stage, 0
            self.run.stage_total = stage_total or 0
            self.pending.update(stage=stage, stage_total=self.run.stage_total)
        self.run.progress_done += add
        self.run.stage_done += add
        self.pending.update(progress_done=self.run.progress_done, stage_done=self.run.stage_done)
        self._retry_over()
        self.flush()

    def flush(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_flush < PROGRESS_EVERY:
            return
        self._last_flush = now
        self.run.api_calls = self._base_calls + self.stats.calls
        self.run.retries = self._base_retries + self.stats.retries
        fields = {
            **self.pending,
            "api_calls": self.run.api_calls,
            "retries": self.run.retries,
            "heartbeat_at": timezone.now(),
        }
        self.pending = {}
        if self.closed:
            return
        if not self.model.objects.filter(pk=self.run.pk, status=SyncRun.Status.RUNNING).update(
            **fields
        ):
            self.closed = True
            raise RunClosed(self.run.pk)

    def finish(self, *, status: str | None = None, message: str = "") -> SyncRun:
        """Close the run: `partial` when some items failed and others did not."""
        if status is None:
            status = SyncRun.Status.PARTIAL if self.run.failed else SyncRun.Status.SUCCEEDED
        self.run.status = status
        self.run.message = redact_text(message or self.run.summary())
        self.run.finished_at = timezone.now()
        self.pending.update(
            status=status, message=self.run.message, finished_at=self.run.finished_at
        )
        self._retry_over()
        if status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL):
            self.run.progress_done = max(self.run.progress_done, self.run.progress_total)
            self.pending["progress_done"] = self.run.progress_done
        self.flush(force=True)
        return self.run


def stale_after() -> timedelta:
    """How long a run may go without a word from its worker (RUN_STALE_AFTER)."""
    return timedelta(seconds=settings.RUN_STALE_AFTER)


def _span(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    if seconds % 60:
        return f"{seconds} seconds"
    return "1 minute" if seconds == 60 else f"{seconds // 60} minutes"


def close_abandoned(runs: models.QuerySet, *, then: str = "a new run takes over.") -> list[SyncRun]:
    """Close the active runs in `runs` that can no longer finish, so a dead worker never
    blocks its scope forever: running ones whose worker went silent for RUN_STALE_AFTER, and
    queued ones no worker took up within it (if that task arrives later, `claim` refuses it).
    The reason ends with `then`. Returns the runs closed here."""
    window = stale_after()
    now = timezone.now()
    stale = now - window
    silent = {"status": SyncRun.Status.RUNNING, "heartbeat_at__lt": stale}
    untaken = {"status": SyncRun.Status.QUEUED, "created_at__lt": stale}
    closed = []
    for guard, reason in (
        (silent, f"The worker stopped answering for {_span(window)}"),
        (untaken, f"No worker took the run up within {_span(window)}"),
    ):
        for run in runs.filter(**guard):
            message = f"{reason}; {then}"
            # Conditional on what made it stale: a heartbeat written (or a claim made) since the
            # read keeps the run alive, whatever this sweep saw.
            if runs.model.objects.filter(pk=run.pk, **guard).update(
                status=SyncRun.Status.FAILED, finished_at=now, message=message
            ):
                run.status, run.finished_at, run.message = SyncRun.Status.FAILED, now, message
                closed.append(run)
    return closed


def run_models() -> list[type[SyncRun]]:
    """Every app's run log: the installed, concrete subclasses of SyncRun."""
    return [model for model in apps.get_models() if issubclass(model, SyncRun)]


def sweep() -> dict[str, int]:
    """The stale-run sweep (beat, every minute): close the runs of every sync whose worker went
    silent (or that no worker took up) for RUN_STALE_AFTER, and queue scheduled ones again.
    Other runs are not repeated behind anyone's back: a person's page shows the reason and the
    button, and a sign-in's run comes again with the next sign-in. Audited, one event per run
    closed."""
    outcome = {"closed": 0, "requeued": 0}
    for model in run_models():
        scheduled = model.objects.filter(trigger=SyncRun.Trigger.SCHEDULE)
        others = model.objects.exclude(trigger=SyncRun.Trigger.SCHEDULE)
        requeueing = "queued again for its schedule."
        for run in close_abandoned(others, then="start it again.") + close_abandoned(
            scheduled, then=requeueing
        ):
            outcome["closed"] += 1
            successor = None
            if run.trigger == SyncRun.Trigger.SCHEDULE:
                successor = requeue(run)
                outcome["requeued"] += successor is not None
                run.message = run.message.removesuffix(requeueing) + (
                    f"queued again for its schedule as run {successor.pk}."
                    if successor is not None
                    else "not queued again: another run of it is going."
                )
                model.objects.filter(pk=run.pk).update(message=run.message)
            audit_record(
                action="run.abandoned",
                target=run,
                workspace=run.workspace_id,
                details={"reason": run.message, "successor": getattr(successor, "pk", None)},
            )
            logger.warning("%s %s: %s", model._meta.label, run.pk, run.message)
    return outcome


def requeue(run: SyncRun) -> SyncRun | None:
    """Queue a closed run again: a new run of the same scope, trigger and direction, handed to
    its kind's task. It begins as any run does, by reconciling what the dead one wrote and did
    not record, so nothing is written twice. None when another run of the scope is already
    going (it does the work) or the kind names no task."""
    model = type(run)
    if not model.run_task:
        logger.error("%s names no run_task: run %s is not queued again", model._meta.label, run.pk)
        return None
    fields = {
        field.attname: getattr(run, field.attname)
        for field in model._meta.concrete_fields
        if not field.primary_key and field.name not in ATTEMPT_FIELDS
    }
    task = current_app.signature(model.run_task)
    try:
        with transaction.atomic():
            successor = model.objects.create(**fields)
            audit_record(
                action="run.requeued",
                target=successor,
                workspace=successor.workspace_id,
                details={"replaces": run.pk},
            )
            transaction.on_commit(lambda: _enqueue(successor, task))
    except IntegrityError:  # the scope's one active run exists: someone started one meanwhile
        return None
    return successor


def claim(model: type[SyncRun], run_id: int) -> bool:
    """Mark a queued run running (or take back one of our own that a redelivered task
    resumes). False when the run is closed: the task then does nothing."""
    claimed = model.objects.filter(pk=run_id, status__in=SyncRun.ACTIVE).update(
        status=SyncRun.Status.RUNNING, heartbeat_at=timezone.now()
    )
    if claimed:
        model.objects.filter(pk=run_id, started_at__isnull=True).update(started_at=timezone.now())
    return bool(claimed)


def request_run(runs: models.QuerySet, *, task, action: str, busy: str, **fields) -> SyncRun:
    """Queue a run in a scope (`runs`: the scope's runs, whose model allows one active run per
    scope by a database constraint): close the scope's abandoned runs, create the run and its
    audit event in one transaction, and hand it to `task` once committed (`task` None: the
    caller does the run itself, in the task it is already in). A run already going
    is a 409 `run_in_progress` naming it (which run, its direction, who started it, how far
    it is), so a page can say what is going on and wait for it."""
    close_abandoned(runs)
    try:
        with transaction.atomic():
            run = runs.model.objects.create(**fields)
            audit_record(
                action=action, actor=run.requested_by, target=run, workspace=run.workspace_id
            )
            if task is not None:
                transaction.on_commit(lambda: _enqueue(run, task))
    except IntegrityError:
        active = runs.filter(status__in=SyncRun.ACTIVE).select_related("requested_by").first()
        raise Conflict(busy, code="run_in_progress", details=active_run_details(active)) from None
    return run


def active_run_details(run: SyncRun | None) -> dict:
    """What a refused start says about the run in its way."""
    if run is None:
        return {"run": None}
    return {
        "run": run.pk,
        "direction": run.direction,
        "started_by": run.requested_by.email if run.requested_by else "",
        "status": run.status,
        "percent": run.percent,
    }


def _enqueue(run: SyncRun, task) -> None:
    runs = type(run).objects.filter(pk=run.pk)
    try:
        # No publish retries: a request (a sign-in, a button) must not wait on a broker that is
        # down; the run is closed as failed instead, and the next trigger tries again.
        result = task.apply_async((run.pk,), retry=False)
    except OperationalError as exc:  # kombu's wrapper of every transport's connection errors
        logger.warning("run %s could not be queued: %s", run.pk, exc)
        runs.filter(status=SyncRun.Status.QUEUED).update(
            status=SyncRun.Status.FAILED,
            finished_at=timezone.now(),
            message="The run could not be queued (the task broker did not answer).",
        )
        return
    runs.update(task_id=result.id)

"""One job import run: read approved jobs from the source page by page and store the new ones.

Per page (never more in memory): jobs whose IM number is new are inserted in one statement;
known ones are skipped, and get their Dataverse id recorded if they have none yet (the seed
matches existing jobs by IM number). Rows without an IM number are counted, not stored. A
failure is a failed run with its reason and what was stored before it, never an empty success.
"""

import logging

from django.db import IntegrityError, transaction

from integrations.connections import http
from integrations.errors import ApplicationError
from integrations.runs import RunRecorder, SyncRun, claim
from timetracker import sources
from timetracker.models import Job, JobSyncRun

logger = logging.getLogger(__name__)

JOB_FIELDS = (
    "general_contractor",
    "job_scope",
    "submittal_status",
    "submittal_status_label",
    "production_phase",
    "production_phase_label",
)


def source_for(run: JobSyncRun):
    if run.connection is None:
        raise ApplicationError(
            "The connection of this run is gone; add it again under Connections and sync again."
        )
    if run.source == JobSyncRun.Source.DATAVERSE:
        return sources.DataverseJobs(run.connection)
    return sources.SmartsheetJobs(run.connection)


class Importer:
    def __init__(self, run: JobSyncRun, recorder: RunRecorder):
        self.run = run
        self.rec = recorder
        self.workspace = run.workspace
        self.seen: set[str] = set()  # IM numbers met in this run (a source may repeat one)
        self.pages = 0

    def page(self, page: sources.SourcePage) -> None:
        self.pages += 1
        if page.without_number:
            self.rec.count("unmapped", len(page.without_number))
        fresh = []
        for job in page.jobs:
            if job["im_number"] in self.seen:
                self.rec.count("unchanged")
                continue
            self.seen.add(job["im_number"])
            fresh.append(job)
        existing = {
            job.im_number: job
            for job in Job.objects.filter(
                workspace=self.workspace, im_number__in=[job["im_number"] for job in fresh]
            )
        }
        linked_ids = self._ids_in_use([job["dataverse_id"] for job in fresh])
        new = []
        for job in fresh:
            found = existing.get(job["im_number"])
            dataverse_id = job["dataverse_id"]
            owner = linked_ids.get(str(dataverse_id)) if dataverse_id else None
            if owner is not None and owner != job["im_number"]:
                self.rec.count("failed")
                self.rec.error(
                    job["im_number"],
                    f"Dataverse job {dataverse_id} is already linked to job {owner}; "
                    "one of the two IM numbers is wrong in Dataverse.",
                )
            elif found is None:
                new.append(job)
            elif found.dataverse_id is None and dataverse_id:
                Job.objects.filter(pk=found.pk, dataverse_id__isnull=True).update(
                    dataverse_id=dataverse_id
                )
                self.rec.count("updated")
            else:
                self.rec.count("unchanged")
        self._insert(new)
        read = len(page.jobs) + len(page.without_number)
        # Done with this page: its jobs go before the source reads the next one (the loop
        # variable would keep them alive meanwhile), so a run holds one page at a time.
        page.jobs.clear()
        page.without_number.clear()
        done = self.run.progress_done + read
        # Dataverse will not say how many rows a query has beyond 5,000 ($count stops there):
        # while pages follow, expect one more of the same size.
        self.rec.progress(
            done=done,
            total=done + (read if page.more else 0),
            stage=f"Page {self.pages}" + (", more to come" if page.more else ""),
        )

    def _ids_in_use(self, ids: list) -> dict[str, str]:
        wanted = [value for value in ids if value]
        if not wanted:
            return {}
        return {
            str(dataverse_id): number
            for dataverse_id, number in Job.objects.filter(
                workspace=self.workspace, dataverse_id__in=wanted
            ).values_list("dataverse_id", "im_number")
        }

    def _job(self, job: dict) -> Job:
        return Job(
            workspace=self.workspace,
            im_number=job["im_number"],
            dataverse_id=job["dataverse_id"],
            source=self.run.source,
            **{field: job[field] for field in JOB_FIELDS},
        )

    def _insert(self, jobs: list[dict]) -> None:
        if not jobs:
            return
        try:
            with transaction.atomic():
                Job.objects.bulk_create([self._job(job) for job in jobs])
            self.rec.count("created", len(jobs))
            return
        except IntegrityError:
            pass  # someone added one of these meanwhile (by hand): one by one, then
        for job in jobs:
            try:
                with transaction.atomic():
                    self._job(job).save()
                self.rec.count("created")
            except IntegrityError:
                self.rec.count("unchanged")


def execute(run_id: int) -> JobSyncRun | None:
    """Do a run. A redelivered task (its worker died) starts the import over: it is idempotent
    by IM number, so nothing is stored twice."""
    if not claim(JobSyncRun, run_id):
        return None
    run = JobSyncRun.objects.select_related("workspace", "connection").get(pk=run_id)
    with RunRecorder(run) as recorder:
        recorder.progress(stage=f"Reading approved jobs from {run.get_source_display()}")
        try:
            importer = Importer(run, recorder)
            for page in source_for(run).approved():
                importer.page(page)
        except (ApplicationError, http.ProviderError) as exc:
            return recorder.finish(
                status=SyncRun.Status.FAILED, message=f"{run.summary()} — stopped: {exc.message}"
            )
        except Exception:
            logger.exception("job sync run %s failed", run_id)
            return recorder.finish(
                status=SyncRun.Status.FAILED,
                message="The run stopped on an unexpected error; it is logged with the run id.",
            )
        logger.info("job sync run %s: %s", run_id, run.summary())
        return recorder.finish()

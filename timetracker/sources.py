"""Where approved jobs come from: Microsoft Dataverse (`imi_jobs`), or — the rollback switch,
USE_DATAVERSE=false — a Smartsheet sheet read by column id. Both yield the same job dicts, page
by page, so a run never holds more than one page in memory.

Field rules are the seed's (Phase 2, `get_approved_jobs` / `get_all_active_jobs` /
`_truncate_scope`), read with spec-notes "Seed 003": `imi_imnumber`→im_number (rows without
one are not jobs), `imi_gc`→general_contractor or "Unknown", `imi_scopesummary`→job_scope,
empty or over 255 characters replaced by "See Work Order" (never cut), `imi_jobid`→dataverse_id.
They are mapping sets, one per source (`mapping/dataverse-jobs.json`,
`mapping/smartsheet-jobs.json`), made in a workspace on its first import and editable in admin.

# Reference: ../shared/seeds/timetracker-dataverse-migration-plan.md (Phase 2, field mapping
# table); ../shared/providers/dataverse.md (paging, formatted values).
"""

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from integrations.connections import services as connections
from integrations.connections.providers import dataverse, smartsheet
from integrations.errors import ApplicationError
from integrations.mapping import engine, examples
from integrations.mapping.engine import MissingRequired
from integrations.mapping.transforms import MappingError
from timetracker.models import SUBMITTAL_STATUS_APPROVED

ENTITY_SET = "imi_jobs"
SELECT_FIELDS = (
    "imi_jobid",
    "imi_imnumber",
    "imi_jobnameaddress",
    "imi_gc",
    "imi_scopesummary",
    "imi_submittalstatus",
    "imi_productionphase",
    "createdon",
)
APPROVED_FILTER = f"imi_submittalstatus eq {SUBMITTAL_STATUS_APPROVED} and statecode eq 0"
ACTIVE_FILTER = "statecode eq 0"


@dataclass
class SourcePage:
    jobs: list[dict]  # mapped jobs (with an IM number)
    without_number: list[str]  # source ids of rows that have none
    more: bool  # another page follows


# The field rules above, as a mapping set: shipped with the hub, made in a workspace on its
# first import and editable in admin (the next import uses the edit).
MAPPINGS = Path(__file__).resolve().parent / "mapping"
JOBS_MAPPING = MAPPINGS / "dataverse-jobs.json"
SMARTSHEET_JOBS_MAPPING = MAPPINGS / "smartsheet-jobs.json"


@functools.cache
def default_mapper(path: Path = JOBS_MAPPING) -> engine.Mapper:
    """The shipped rules, compiled without a database (for a record on its own)."""
    data = json.loads(path.read_text())
    return engine.compile_fields(
        data["fields"],
        required=data["required_fields"],
        entity=data["target_entity"],
        name=data["name"],
    )


def jobs_mapper(workspace, path: Path = JOBS_MAPPING) -> engine.Mapper:
    """The workspace's mapping set for the import (the shipped one, made on first use)."""
    return engine.mapper_for(examples.load(workspace=workspace, path=path))


def job_from(record: dict, mapper: engine.Mapper, source_id: str) -> dict | None:
    """One source record as a job, or None when it has no IM number."""
    try:
        return mapper.map(record)
    except MissingRequired:
        return None
    except MappingError as exc:  # an edited set refusing a value: say which record and why
        raise ApplicationError(
            f"Job {source_id or '?'} does not fit the mapping set “{mapper.name}”: {exc.message}",
            code="mapping_failed",
        ) from None


def job_from_dataverse(record: dict, mapper: engine.Mapper | None = None) -> dict | None:
    """One `imi_jobs` record as a job, or None when it has no IM number."""
    return job_from(record, mapper or default_mapper(), record.get("imi_jobid"))


class DataverseJobs:
    """`imi_jobs` through the workspace's Dataverse connection. Every page is fetched with a
    token that is good for another minute (reused until then, refreshed after), and a 401 gets
    one refresh and one more try."""

    source = "dataverse"

    def __init__(self, connection):
        self.connection = connection
        self.mapper = jobs_mapper(connection.workspace)

    def _pages(self, *, filter: str, orderby: str) -> Iterator[SourcePage]:
        url = dataverse.query_url(
            self.connection.instance_url,
            ENTITY_SET,
            select=SELECT_FIELDS,
            filter=filter,
            orderby=orderby,
        )
        client = connections.client(self.connection)  # one session for all pages
        while url:
            page = client.call(lambda c, url=url: c.sdk.get_page(url))
            url = page.next_link  # followed unchanged, to the end (the seed read one page)
            mapped = SourcePage(jobs=[], without_number=[], more=bool(url))
            for record in page.records:
                job = job_from_dataverse(record, self.mapper)
                if job is None:
                    mapped.without_number.append(record.get("imi_jobid") or "?")
                else:
                    mapped.jobs.append(job)
            del page  # the raw records go before the next page is read
            yield mapped

    def approved(self) -> Iterator[SourcePage]:
        """Approved, active jobs, newest first (the seed's `get_approved_jobs`)."""
        return self._pages(filter=APPROVED_FILTER, orderby="createdon desc")

    def all_active(self) -> Iterator[SourcePage]:
        """Every active job with its status label (the seed's `get_all_active_jobs`)."""
        return self._pages(filter=ACTIVE_FILTER, orderby="imi_imnumber desc")


class SmartsheetJobs:
    """The rollback source: the jobs sheet of settings, read by column id (never title) through
    the Smartsheet provider; rows whose submittal status is the approved value are jobs."""

    source = "smartsheet"

    def __init__(self, connection):
        self.connection = connection
        self.sheet_id = settings.TIMETRACKER_SMARTSHEET_SHEET_ID
        self.columns = settings.TIMETRACKER_SMARTSHEET_COLUMNS
        self.mapper = jobs_mapper(connection.workspace, SMARTSHEET_JOBS_MAPPING)

    def _pages(self, keep: Callable[[str], bool]) -> Iterator[SourcePage]:
        info = connections.client(self.connection).call(
            lambda c: smartsheet.get_sheet(c.sdk, sheet_id=self.sheet_id)
        )
        jobs, missing = [], []
        for row in info.rows:
            cells = {cell["columnId"]: cell["value"] for cell in row.cells}
            value = {field: cells.get(column) for field, column in self.columns.items()}
            if not keep(str(value["submittal_status"] or "")):
                continue
            job = job_from(value, self.mapper, f"in row {row.id}")
            if job is None:
                missing.append(str(row.id))
            else:
                jobs.append(job)
        yield SourcePage(jobs=jobs, without_number=missing, more=False)

    def approved(self) -> Iterator[SourcePage]:
        approved = settings.TIMETRACKER_SMARTSHEET_APPROVED
        return self._pages(lambda status: status == approved)

    def all_active(self) -> Iterator[SourcePage]:
        return self._pages(lambda status: True)


def get_approved_jobs(source) -> Iterator[dict]:
    """The seed's `get_approved_jobs()`: every approved job, as a stream of dicts."""
    for page in source.approved():
        yield from page.jobs


def get_all_active_jobs(source) -> Iterator[dict]:
    """The seed's `get_all_active_jobs()`, with `submittal_status_label`."""
    for page in source.all_active():
        yield from page.jobs

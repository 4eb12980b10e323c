"""Building timelines for the projects tests and benchmark."""

from datetime import date, timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from integrations.connections import services as connections
from integrations.connections.models import Connection
from integrations.connections.providers import smartsheet
from projects import services, sheet
from projects.models import RowMapping


def add(project, author, kind: str, **fields):
    return services.timeline_add(project=project, actor=author, kind=kind, **fields)


def timeline(
    project,
    author,
    *,
    task_blocks: int,
    per_block: dict[str, int],
    top_level: dict[str, int] | None = None,
) -> list:
    """Task blocks, each with `per_block` children of each kind, plus some top-level entries."""
    made = []
    start = date(2026, 1, 5)
    for b in range(task_blocks):
        block = add(
            project,
            author,
            "taskblock",
            title=f"Block {b + 1}",
            start_date=start + timedelta(days=7 * b),
            end_date=start + timedelta(days=7 * b + 5),
            amount=Decimal("1000.50") * (b + 1),
            notes=f"phase {b + 1}",
        )
        made.append(block)
        made += children(project, author, per_block, task_block=block, tag=f"{b + 1}")
    if top_level:
        made += children(project, author, top_level, task_block=None, tag="top")
    return made


def children(project, author, counts: dict[str, int], *, task_block, tag: str) -> list:
    made = []
    for n in range(counts.get("purchaseorder", 0)):
        made.append(
            add(
                project,
                author,
                "purchaseorder",
                task_block=task_block,
                number=f"PO-{tag}-{n}",
                vendor="Acme Lumber",
                amount=Decimal("250.00") + n,
            )
        )
    for n in range(counts.get("workorder", 0)):
        made.append(
            add(
                project,
                author,
                "workorder",
                task_block=task_block,
                number=f"WO-{tag}-{n}",
                description=f"Install run {n}",
                is_custom=n % 3 == 0,
            )
        )
    for n in range(counts.get("comment", 0)):
        made.append(
            add(
                project,
                author,
                "comment",
                task_block=task_block,
                text=f"Site note {tag}.{n}: checked.",
            )
        )
    for n in range(counts.get("attachment", 0)):
        upload = SimpleUploadedFile(
            f"photo-{tag}-{n}.jpg", b"\xff\xd8" + bytes([n % 256]) * 2048, content_type="image/jpeg"
        )
        made.append(add(project, author, "attachment", task_block=task_block, upload=upload))
    return made


def person(author):
    """A Smartsheet user editing the sheet by hand: the SDK, no change agent."""
    connection = getattr(author, "smartsheet", None) or Connection.objects.get(
        provider="smartsheet", user=author
    )
    return smartsheet.client(connections.access_token(connection), key="person")


def rows_of(project, author) -> dict[int, dict]:
    link = project.sheet_link
    info = smartsheet.get_sheet(person(author), sheet_id=link.sheet_id)
    columns = {k: int(v) for k, v in link.columns.items()}
    return {
        row.id: {
            "parent": row.parent_id,
            "version": row.version,
            **sheet.values_of_row(row.cells, columns),
        }
        for row in info.rows
    }


def edit_row(project, author, row_id: int, **values) -> None:
    link = project.sheet_link
    columns = {k: int(v) for k, v in link.columns.items()}
    cells = [{"columnId": columns[key], "value": value} for key, value in values.items()]
    result = smartsheet.update_rows(person(author), sheet_id=link.sheet_id, rows=[(row_id, cells)])
    assert not result.failures


def row_of(entity) -> int:
    return RowMapping.objects.get(entity_type=entity._meta.model_name, entity_id=entity.pk).row_id


def rows_by_hand(project, author, *rows: dict) -> None:
    """Rows someone adds in Smartsheet (cells by our column keys), at the top level."""
    link = project.sheet_link
    columns = {k: int(v) for k, v in link.columns.items()}
    smartsheet.add_rows(
        person(author),
        sheet_id=link.sheet_id,
        parent_id=None,
        cells=[
            [{"columnId": columns[key], "value": value} for key, value in row.items()]
            for row in rows
        ],
    )

"""Compiling a mapping set and mapping records with it; required fields; preview; JSON
import and export.

A compiled `Mapper` is a tuple of (sources, target, function) steps: mapping a record is one
pass over it with no lookups of models or settings (bench/mapping.py measures µs per record).
A record that fails a transform, or lacks a required target field, is refused whole with the
field's name: nothing is written half-way.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import transaction

from integrations.mapping import transforms
from integrations.mapping.models import FieldMapping, LookupEntry, LookupTable, MappingSet
from integrations.mapping.transforms import MappingError, is_empty

# Seed A4: what each target entity needs before a record may be created.
REQUIRED_FIELDS = {
    "clients": ["name", "team_id", "user_id"],
    "events": ["title", "event_date", "start_time", "end_time", "team_id", "user_id"],
    "offers": ["offer_number", "subject", "offer_date", "user_id"],
    "offer_line_items": ["offer_id", "name", "quantity", "unit_price", "total"],
    "tasks": ["title", "category", "team_id", "user_id"],
    "emails": ["from_email", "to_email", "subject", "body_text", "team_id", "user_id"],
}
EXPORT_FORMAT = "integration-hub.mapping-set/1"
LOOKUP_CACHE_SECONDS = 300


class MissingRequired(MappingError):
    def __init__(self, entity: str, missing: list[str]):
        names = ", ".join(missing)
        super().__init__(
            f"The {entity or 'target'} record lacks required field(s): {names}; nothing was written.",
            field=missing[0],
        )
        self.missing = missing


@dataclass
class Step:
    sources: tuple[str, ...]
    target: str
    function: Callable
    transform: str
    pure: bool


@dataclass
class Mapper:
    steps: list[Step]
    required: list[str] = field(default_factory=list)
    entity: str = ""
    name: str = ""  # the mapping set's, for messages

    def __post_init__(self):
        # The hot loop's plan: (source or None, sources, target, function, merge); `merge`
        # marks a target an earlier step wrote (A3: features, equipment → amenities[]).
        seen: set[str] = set()
        self._plan = []
        for step in self.steps:
            single = step.sources[0] if len(step.sources) == 1 else None
            merge = step.target in seen
            self._plan.append((single, step.sources, step.target, step.function, merge))
            seen.add(step.target)

    def map(self, record: dict) -> dict:
        """The mapped record, or MappingError naming the field (the record is refused whole)."""
        out: dict = {}
        get = record.get
        for single, sources, target, function, merge in self._plan:
            value = get(single) if single is not None else [get(s) for s in sources]
            try:
                result = function(value, record)
            except MappingError as exc:
                raise MappingError(f"{target}: {exc.message}", field=target) from None
            if merge:
                previous = out.get(target)
                if isinstance(previous, list) and isinstance(result, list):
                    result = list(dict.fromkeys([*previous, *result]))
            out[target] = result
        missing = [name for name in self.required if is_empty(out.get(name))]
        if missing:
            raise MissingRequired(self.entity, missing)
        return out

    def map_many(self, records: Iterable[dict]) -> list[dict]:
        return [self.map(record) for record in records]


def workspace_lookup(workspace_id: int) -> Callable[[str, str], str | None]:
    """`lookup(table, key)` for a workspace's lookup tables, through the cache. A table's
    version is in the cache key, so a changed table is never answered from the cache."""
    versions: dict[str, int | None] = {}

    def lookup(table: str, key: str) -> str | None:
        if table not in versions:
            versions[table] = (
                LookupTable.objects.filter(workspace_id=workspace_id, name=table)
                .values_list("version", flat=True)
                .first()
            )
        version = versions[table]
        if version is None:
            raise MappingError(f"There is no lookup table {table!r} in this workspace.")
        cache_key = f"lookup:{workspace_id}:{table}:{version}:{key}"
        found = cache.get(cache_key)
        if found is None:
            value = (
                LookupEntry.objects.filter(
                    table__workspace_id=workspace_id, table__name=table, key=key
                )
                .values_list("value", flat=True)
                .first()
            )
            found = str(value) if value else ""
            cache.set(cache_key, found, LOOKUP_CACHE_SECONDS)
        return found or None

    return lookup


def compile_fields(
    rows: Iterable[dict],
    *,
    required: Iterable[str] = (),
    entity: str = "",
    direction: str = "push",
    context: dict | None = None,
    name: str = "",
) -> Mapper:
    """rows: {"source", "target", "transform", "params", "direction"}. Pushing maps source →
    target; pulling maps target → source, with the inverse where a transform has one
    (rename, enum_map, to_array ⇄ from_array) and a plain copy otherwise."""
    steps = []
    for index, row in enumerate(rows):
        row_direction = row.get("direction", "both")
        if row_direction == "none" or row_direction not in ("both", direction):
            continue
        name, params = row.get("transform", "rename"), row.get("params") or {}
        sources = tuple(s.strip() for s in str(row["source"]).split(",") if s.strip())
        target = str(row["target"]).strip()
        if not sources or not target:
            raise MappingError(f"Field {index + 1}: both a source and a target are needed.")
        if direction == "pull":
            if len(sources) != 1:
                continue  # several fields joined into one cannot be split back
            name, params = _inverse(name, params)
            sources, target = (target,), sources[0]
        try:
            function = transforms.compile_transform(name, params, context)
        except MappingError as exc:
            raise MappingError(
                f"Field {index + 1} ({target}): {exc.message}", field=exc.field
            ) from None
        steps.append(Step(sources, target, function, name, transforms.get(name).pure))
    return Mapper(steps=steps, required=list(required), entity=entity, name=name)


def _inverse(name: str, params: dict) -> tuple[str, dict]:
    if name == "enum_map":
        values = {v: k for k, v in (params.get("values") or {}).items() if v is not None}
        return "enum_map", {"values": values, "case": "keep"}
    if name == "to_array":
        return "from_array", {}
    if name == "from_array":
        return "to_array", {}
    return "rename", {}


def field_rows(mapping_set) -> list[dict]:
    return [
        {
            "source": f.source_field,
            "target": f.target_field,
            "transform": f.transform,
            "params": f.params,
            "direction": f.direction,
        }
        for f in mapping_set.fields.all()
    ]


def mapper_for(mapping_set, *, direction: str = "push") -> Mapper:
    return compile_fields(
        field_rows(mapping_set),
        required=mapping_set.required_fields if direction == "push" else (),
        entity=mapping_set.target_entity,
        direction=direction,
        context={"lookup": workspace_lookup(mapping_set.workspace_id)},
        name=mapping_set.name,
    )


def preview(
    mapping_set, record: dict, *, direction: str = "push", required: Iterable[str] | None = None
) -> dict:
    """What a record becomes, without writing anything: each target's value or its error,
    the required fields left empty, and the fields whose transform writes (a new number) and
    so is only shown, not run. `direction` "pull" reads the set backwards (a target record
    becomes a source one); `required` is then the source side's required fields (the set's own
    are the target's)."""
    output, errors, deferred = {}, {}, []
    mapper = compile_fields(
        field_rows(mapping_set),
        entity=mapping_set.target_entity,
        direction=direction,
        context={"lookup": workspace_lookup(mapping_set.workspace_id)},
    )
    if required is None:
        required = mapping_set.required_fields if direction == "push" else ()
    for step in mapper.steps:
        if not step.pure:
            output[step.target] = f"(a new {step.transform}, given on write)"
            deferred.append(step.target)
            continue
        single = Mapper(steps=[step])
        try:
            output.update(single.map(record))
        except MappingError as exc:
            errors[step.target] = exc.message.split(": ", 1)[-1]
    missing = [
        name
        for name in required
        if name not in deferred and is_empty(output.get(name)) and name not in errors
    ]
    return {"output": output, "errors": errors, "missing_required": missing, "deferred": deferred}


# --- JSON import and export ------------------------------------------------------------------


def export_set(mapping_set) -> dict:
    return {
        "format": EXPORT_FORMAT,
        "name": mapping_set.name,
        "source_entity": mapping_set.source_entity,
        "target_entity": mapping_set.target_entity,
        "required_fields": list(mapping_set.required_fields),
        "requires_approval": mapping_set.requires_approval,
        "description": mapping_set.description,
        "fields": field_rows(mapping_set),
    }


def _text(data: dict, key: str, *, required: bool = False, limit: int = 255) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise MappingError(
            f"{key!r} must be {'non-empty ' if required else ''}text of at most {limit} characters.",
            field=key,
        )
    return value.strip()


def import_set(data, *, workspace, name: str = "", replace: bool = False):
    """A mapping set from its JSON export: checked whole first (every field's transform and
    parameters), then written in one transaction, so a bad file writes nothing."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise MappingError(f"This is not a mapping set export ({EXPORT_FORMAT}).", field="format")
    fields = data.get("fields")
    if not isinstance(fields, list):
        raise MappingError("'fields' must be a list.", field="fields")
    required = data.get("required_fields", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise MappingError("'required_fields' must be a list of names.", field="required_fields")
    rows = []
    for index, row in enumerate(fields):
        if not isinstance(row, dict):
            raise MappingError(f"Field {index + 1} is not an object.", field="fields")
        direction = row.get("direction", "both")
        if direction not in FieldMapping.Direction.values:
            raise MappingError(
                f"Field {index + 1}: direction {direction!r} is not one of "
                f"{', '.join(FieldMapping.Direction.values)}.",
                field="direction",
            )
        rows.append(
            {
                "source": _text(row, "source", required=True),
                "target": _text(row, "target", required=True),
                "transform": row.get("transform", "rename"),
                "params": row.get("params") or {},
                "direction": direction,
            }
        )
    for index, row in enumerate(rows):  # every field's parameters, whatever its direction
        try:
            transforms.validate_params(row["transform"], row["params"])
        except MappingError as exc:
            raise MappingError(
                f"Field {index + 1} ({row['target']}): {exc.message}", field=exc.field
            ) from None
    set_name = name or _text(data, "name", required=True, limit=120)
    with transaction.atomic():
        existing = MappingSet.objects.filter(workspace=workspace, name=set_name).first()
        if existing and not replace:
            raise MappingError(f"A mapping set named {set_name!r} exists already.", field="name")
        mapping_set = existing or MappingSet(workspace=workspace, name=set_name)
        mapping_set.source_entity = _text(data, "source_entity", limit=100)
        mapping_set.target_entity = _text(data, "target_entity", required=True, limit=100)
        mapping_set.required_fields = required
        mapping_set.requires_approval = bool(data.get("requires_approval", False))
        mapping_set.description = _text(data, "description", limit=5000)
        mapping_set.save()
        mapping_set.fields.all().delete()
        FieldMapping.objects.bulk_create(
            FieldMapping(
                mapping_set=mapping_set,
                position=position,
                source_field=row["source"],
                target_field=row["target"],
                transform=row["transform"],
                params=row["params"],
                direction=row["direction"],
            )
            for position, row in enumerate(rows)
        )
    return mapping_set

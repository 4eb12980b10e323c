"""Parameters checked at save, records refused whole, numbers unique under concurrency, and
transforms that cannot run code or reach files or the network."""

import contextlib
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ValidationError
from django.db import connections

from integrations.mapping import engine
from integrations.mapping.models import (
    FieldMapping,
    LookupEntry,
    LookupTable,
    MappingSet,
    NumberSequence,
)
from integrations.mapping.transforms import REGISTRY, MappingError, validate_params


@pytest.mark.parametrize(
    ("transform", "params", "field", "message"),
    [
        ("truncate", {}, "max_length", "truncate: the parameter 'max_length' is required."),
        (
            "truncate",
            {"max_length": "ten"},
            "max_length",
            "truncate: the parameter 'max_length' must be a whole number.",
        ),
        (
            "truncate",
            {"max_length": 0},
            "max_length",
            "truncate: the parameter 'max_length' is out of range (minimum 1).",
        ),
        (
            "enum_map",
            {"strict": "yes"},
            "strict",
            "enum_map: the parameter 'strict' must be true or false.",
        ),
        (
            "enum_map",
            {"case": "title"},
            "case",
            "enum_map: the parameter 'case' must be one of 'lower', 'upper', 'keep'.",
        ),
        (
            "rename",
            {"code": "__import__('os')"},
            "code",
            "rename: unknown parameter 'code'; it takes no parameters.",
        ),
        (
            "date",
            {"timezone": "Mars/Olympus"},
            "timezone",
            "date: 'Mars/Olympus' is not a time zone name.",
        ),
        ("date", {"input_formats": ["%d.%m.%Y %Z%z%c"]}, "input_formats", None),
        (
            "number",
            {"prefix": "OE/../x"},
            "prefix",
            "number: the parameter 'prefix' is not in the expected form.",
        ),
        ("lookup_uuid", {}, "table", "lookup_uuid: the parameter 'table' is required."),
    ],
)
def test_bad_parameters_are_refused_with_the_parameters_name(transform, params, field, message):
    with pytest.raises(MappingError) as refused:
        validate_params(transform, params)
    assert refused.value.field == field
    if message:
        assert refused.value.message == message


def test_an_unknown_transform_is_refused():
    with pytest.raises(MappingError, match="There is no transform named 'eval'"):
        validate_params("eval", {})


@pytest.mark.django_db
def test_a_field_mapping_is_validated_on_save(two_workspaces):
    mapping_set = MappingSet.objects.create(
        workspace=two_workspaces["a"], name="Clients", target_entity="clients"
    )
    mapping = FieldMapping(
        mapping_set=mapping_set,
        source_field="notes",
        target_field="notes",
        transform="truncate",
        params={},
    )
    with pytest.raises(ValidationError) as refused:
        mapping.full_clean()
    assert refused.value.message_dict == {
        "params": ["truncate: the parameter 'max_length' is required."]
    }


@pytest.mark.django_db
def test_a_record_is_mapped_whole_or_not_at_all(two_workspaces):
    mapping_set = MappingSet.objects.create(
        workspace=two_workspaces["a"],
        name="Clients",
        target_entity="clients",
        required_fields=["name", "email"],
    )
    for position, (source, target, transform) in enumerate(
        [
            ("organization", "name", "rename"),
            ("mail", "email", "email"),
            ("status", "status", "enum_map"),
        ]
    ):
        FieldMapping.objects.create(
            mapping_set=mapping_set,
            position=position,
            source_field=source,
            target_field=target,
            transform=transform,
        )
    mapper = engine.mapper_for(mapping_set)
    assert mapper.map({"organization": "Acme", "mail": "A@Acme.ch", "status": "Lead"}) == {
        "name": "Acme",
        "email": "a@acme.ch",
        "status": "lead",
    }
    with pytest.raises(MappingError) as refused:
        mapper.map({"organization": "Acme", "mail": "not an address"})
    assert refused.value.field == "email" and refused.value.message.startswith("email: ")
    with pytest.raises(engine.MissingRequired) as missing:
        mapper.map({"organization": "", "mail": "a@acme.ch"})
    assert missing.value.missing == ["name"]


@pytest.mark.django_db
def test_a_preview_reads_the_set_backwards_with_the_source_sides_required_fields(two_workspaces):
    mapping_set = MappingSet.objects.create(
        workspace=two_workspaces["a"], name="Accounts", target_entity="Account"
    )
    mapping_set.required_fields = ["Name"]
    mapping_set.save()
    rows = [
        ("name", "Name", "rename", {}, "push"),
        ("status", "Type", "enum_map", {"values": {"customer": "Customer"}}, "both"),
        ("phone", "Phone", "truncate", {"max_length": 4}, "both"),
    ]
    for position, (source, target, transform, params, direction) in enumerate(rows):
        FieldMapping.objects.create(
            mapping_set=mapping_set,
            position=position,
            source_field=source,
            target_field=target,
            transform=transform,
            params=params,
            direction=direction,
        )
    crm = {"Name": "Acme", "Type": "Customer", "Phone": "+41 44 000"}

    pulled = engine.preview(mapping_set, crm, direction="pull", required=["name", "status"])

    # enum_map read backwards; truncate has no inverse (a copy); Name is not pulled.
    assert pulled["output"] == {"status": "customer", "phone": "+41 44 000"}
    assert pulled["missing_required"] == ["name"]
    pushed = engine.preview(mapping_set, {"status": "customer", "phone": "12345"})
    assert pushed["output"] == {"Name": None, "Type": "Customer", "Phone": "1234"}
    assert pushed["missing_required"] == ["Name"]


@pytest.mark.django_db
def test_lookups_read_the_workspaces_table_and_see_changes(two_workspaces):
    table = LookupTable.objects.create(workspace=two_workspaces["a"], name="clients")
    LookupEntry.objects.create(
        table=table, key=" Anna@Example.com", value="3f2b8c1e-9d4a-4b6f-8e2d-1a5c7b9e0f12"
    )
    lookup = engine.workspace_lookup(two_workspaces["a"].pk)
    assert lookup("clients", "anna@example.com") == "3f2b8c1e-9d4a-4b6f-8e2d-1a5c7b9e0f12"
    LookupEntry.objects.filter(table=table).update(value="0c6d2e4f-1a3b-4c5d-8e9f-a0b1c2d3e4f5")
    LookupEntry.objects.create(
        table=table, key="bo@example.com", value="0c6d2e4f-1a3b-4c5d-8e9f-a0b1c2d3e4f6"
    )
    fresh = engine.workspace_lookup(two_workspaces["a"].pk)  # the version moved: no stale answer
    assert fresh("clients", "anna@example.com") == "0c6d2e4f-1a3b-4c5d-8e9f-a0b1c2d3e4f5"
    other = engine.workspace_lookup(two_workspaces["b"].pk)
    with pytest.raises(MappingError, match="no lookup table 'clients'"):
        other("clients", "anna@example.com")


@pytest.mark.django_db(transaction=True)
def test_numbers_taken_by_eight_threads_at_once_are_all_unique():
    from zoneinfo import ZoneInfo

    from integrations.mapping.numbers import next_number

    def take(_):
        try:
            return next_number(prefix="OE", zone=ZoneInfo("Europe/Zurich"))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(8) as pool:
        # 8 threads contend on every take; 300 takes give hundreds of collisions to lose.
        numbers = list(pool.map(take, range(300)))
    assert len(set(numbers)) == 300
    assert NumberSequence.objects.get().last == 300


@pytest.mark.heavy
@pytest.mark.django_db(transaction=True)
def test_numbers_from_several_processes_are_all_unique(tmp_path):
    from django.conf import settings

    if (
        settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
        and settings.DATABASES["default"]["NAME"] == ":memory:"
    ):
        pytest.skip("an in-memory database is not shared with other processes")
    code = (
        "import sys, django, os; sys.path.insert(0, '.');"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings');"
        "from config.startup import load_settings_or_exit; load_settings_or_exit();"
        "from django.conf import settings; settings.DATABASES['default']['NAME'] = sys.argv[1];"
        "django.setup();"
        "from zoneinfo import ZoneInfo; from integrations.mapping.numbers import next_number;"
        "print('\\n'.join(next_number(prefix='PX', zone=ZoneInfo('UTC')) for _ in range(250)))"
    )
    name = connections["default"].settings_dict["NAME"]
    workers = [
        subprocess.Popen([sys.executable, "-c", code, name], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    numbers = [line for worker in workers for line in worker.communicate(timeout=120)[0].split()]
    assert all(worker.returncode == 0 for worker in workers)
    assert len(numbers) == len(set(numbers)) == 1000


OUTSIDE = ("open", "socket.", "subprocess.", "os.system", "os.exec", "exec", "compile", "import")
_watch = threading.local()
_seen: list[str] = []


def _audit(event, args):
    if getattr(_watch, "on", False) and event.startswith(OUTSIDE):
        _seen.append(event)


sys.addaudithook(_audit)  # gated by _watch.on: silent for everything but the test below


def test_transforms_reach_no_files_network_or_code():
    """Every transform, run on hostile-looking input, opens no file, socket or process, and
    compiles, executes or imports nothing (Python's audit events, seen while they run)."""
    hostile = [
        "__import__('os').system('id')",
        "../../etc/passwd",
        "{{7*7}}",
        "${jndi:ldap://x}",
        42,
        None,
        "2:05 PM",
        "09.12.2025",
    ]
    params = {
        "enum_map": {"values": {"x": "y"}},
        "truncate": {"max_length": 5},
        "default": {"value": "n/a"},
        "split_name": {"part": "first"},
        "lookup_uuid": {"table": "t", "missing": "null"},
        "date": {"input_formats": ["%d.%m.%Y"]},
    }
    functions = [
        transform.build(params.get(name, {}), {"lookup": lambda table, key: None})
        for name, transform in REGISTRY.items()
        if transform.pure  # `number` writes to the database, and only there
    ]
    for function in functions:  # warm up: the first strptime imports its module
        with contextlib.suppress(MappingError):
            function("2:05 PM", {})
    _seen.clear()
    _watch.on = True
    try:
        for function in functions:
            for value in hostile:
                with contextlib.suppress(MappingError):  # refused with a message is fine
                    function(value, {"capacity": 1})
    finally:
        _watch.on = False
    assert _seen == []


def test_errors_carry_no_internals():
    for value in ("not a date", "31.02.2025"):
        with pytest.raises(MappingError) as refused:
            REGISTRY["date"].build({}, {})(value, {})
        assert "Traceback" not in refused.value.message and "Error" not in refused.value.message


@pytest.mark.django_db
def test_an_import_checks_every_field_whatever_its_direction(two_workspaces):
    data = {
        "format": engine.EXPORT_FORMAT,
        "name": "Pulled",
        "target_entity": "clients",
        "fields": [
            {
                "source": "a",
                "target": "b",
                "transform": "truncate",
                "params": {},
                "direction": "pull",
            }
        ],
    }
    with pytest.raises(
        MappingError, match=r"Field 1 \(b\): truncate: the parameter 'max_length' is required."
    ):
        engine.import_set(data, workspace=two_workspaces["a"])
    assert not MappingSet.objects.exists()


@pytest.mark.django_db
def test_the_demo_ships_the_a1_renames(capsys):
    from django.core.management import call_command

    call_command("bootstrap_demo", email="admin@example.com")
    call_command("bootstrap_demo", email="admin@example.com")  # once, not twice
    (example,) = MappingSet.objects.filter(name__startswith="A1 column renames")
    renames = [(f.source_field, f.target_field, f.transform) for f in example.fields.all()]
    assert renames[0] == ("organization", "company", "rename")
    assert len(renames) == 9 and {t for _, _, t in renames} == {"rename"}
    mapped = engine.mapper_for(example).map({"organization": "Acme", "accepted_at": "2025-12-09"})
    assert (mapped["company"], mapped["confirmed_at"]) == ("Acme", "2025-12-09")

"""The OData engine on its own (no emulator, no TLS): a small declared service of widgets and
their owners answered in the specification's dialect and in a SQL Server-like one, and
Project Online's ProjectData dialect (OData v3) on a few reporting entity sets."""

import copy
import xml.etree.ElementTree as ElementTree
from urllib.parse import unquote

import pytest

from integrations.sandbox.odata import (
    DATE,
    DATETIME,
    DATETIME_V3,
    DECIMAL,
    DOUBLE,
    GUID,
    INT32,
    INT64,
    STRING,
    Dialect,
    EntitySet,
    Function,
    Navigation,
    ODataError,
    ProjectDataDialect,
    Property,
    Service,
    parse_key,
)

ROOT = "https://odata.test/api"
ANNOTATION = "Test.Display.FormattedValue"
OWNER_A = "0b1c9a52-0000-4000-8000-00000000000a"
OWNER_B = "0b1c9a52-0000-4000-8000-00000000000b"
KINDS = {1: "Bolt", 2: "Nut"}

WIDGETS = EntitySet(
    name="Widgets",
    entity_type="Widget",
    key=("WidgetId",),
    properties=(
        Property("WidgetId", INT32),
        Property("Name", STRING),
        Property("Colour", STRING),
        Property("Weight", DOUBLE),
        Property("Kind", INT32, KINDS),
        Property("Made", DATETIME),
        Property("Due", DATE),
        Property("OwnerId", GUID),
        Property("Version", INT64),
    ),
    navigations=(Navigation("Owner", "Owners", local="OwnerId", remote="OwnerId"),),
    etag="Version",
)
OWNERS = EntitySet(
    name="Owners",
    entity_type="Owner",
    key=("OwnerId",),
    properties=(Property("OwnerId", GUID), Property("Name", STRING)),
    navigations=(
        Navigation("Widgets", "Widgets", local="OwnerId", remote="OwnerId", collection=True),
    ),
)
PING = Function("Ping", "PingResponse", (Property("Answer", STRING),))


def widget(widget_id, name, colour, weight, kind, made, owner):
    return {
        "Due": made[:10] if made[5:7] in ("01", "02", "03") else None,
        "WidgetId": widget_id,
        "Name": name,
        "Colour": colour,
        "Weight": weight,
        "Kind": kind,
        "Made": made,
        "OwnerId": owner,
        "Version": 100 + widget_id,
    }


ROWS = {
    "Widgets": [
        widget(1, "Anvil", "Red", 2.5, 1, "2025-01-01T00:00:00Z", OWNER_A),
        widget(2, "bolt", None, 1.0, 2, "2025-02-01T00:00:00Z", OWNER_A),
        widget(3, "Crate", "red", None, None, "2025-03-01T00:00:00Z", OWNER_B),
        widget(4, None, "Blue", 3.0, 1, "2025-04-01T12:30:00Z", None),
        widget(5, "O'Brien", "Green", 0.5, 2, "2025-05-01T00:00:00Z", OWNER_B),
    ],
    "Owners": [{"OwnerId": OWNER_A, "Name": "Ada"}, {"OwnerId": OWNER_B, "Name": "Bo"}],
}


class SqlDialect(Dialect):
    """SQL Server's comparisons, formatted values."""

    sql_nulls = ignore_case = True
    formatted_term = ANNOTATION


class SqlPages(SqlDialect):
    page_size = 3


def service(dialect: Dialect) -> Service:
    return Service(dialect, [WIDGETS, OWNERS], root=lambda: ROOT, functions=[PING])


@pytest.fixture
def store():
    return copy.deepcopy(ROWS)


def ids(answer) -> list[int]:
    return [row["WidgetId"] for row in answer.body["value"]]


def follow(engine: Service, store, link: str, prefer=()):
    """The next page, asked with the next link's own query."""
    path, _, query = link.removeprefix(f"{ROOT}/").partition("?")
    return engine.collection(path, store, query=query, prefer=prefer)


class TestFilter:
    @pytest.mark.parametrize(
        ("condition", "sql", "spec"),
        [
            ("Colour eq 'red'", [1, 3], [3]),  # SQL Server compares text without case
            ("Colour ne 'Red'", [4, 5], [2, 3, 4, 5]),  # and a null is never "not equal"
            ("Weight gt 1", [1, 4], [1, 4]),
            ("Weight ge 1.0", [1, 2, 4], [1, 2, 4]),
            ("Weight lt 2.5", [2, 5], [2, 5]),
            ("Weight le 2.5", [1, 2, 5], [1, 2, 5]),
            ("1 lt Weight", [1, 4], [1, 4]),  # a literal on the left reads mirrored
            ("Colour eq null", [2], [2]),
            ("Colour ne null", [1, 3, 4, 5], [1, 3, 4, 5]),
            ("not (Weight gt 1)", [2, 5], [2, 3, 5]),  # not unknown stays unknown
            ("contains(Name,'o')", [2, 5], [2]),
            ("startswith(Name,'cr') or endswith(Name,'''brien')", [3, 5], []),
            ("(Kind eq 1 or Kind eq null) and Weight ne null", [1, 4], [1, 4]),
            ("Made ge 2025-02-01 and Made lt 2025-02-28T23:00:00-01:00", [2], [2]),
            ("Due gt 2025-01-01 and 2025-03-01 ge Due", [2, 3], [2, 3]),
            (f"OwnerId eq {OWNER_A.upper()}", [1, 2], [1, 2]),  # GUIDs without case everywhere
            ("Weight gt 1 and Name eq null", [4], [4]),
            ("Kind ne 2 or Weight eq null", [1, 3, 4], [1, 3, 4]),
            ("true", [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]),
        ],
    )
    def test_each_operator_in_both_null_semantics(self, store, condition, sql, spec):
        for dialect, expected in ((SqlDialect(), sql), (Dialect(), spec)):
            answer = service(dialect).collection(
                "Widgets", store, query=f"$filter={condition}&$select=WidgetId"
            )
            assert sorted(ids(answer)) == expected, type(dialect).__name__

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("$filter=Colour eqq 'x'", "')' or operator expected at position 7 in 'Colour eqq 'x''."),
            ("$filter=Colour eq 'x", "There is an unterminated string literal at position 12 in 'Colour eq 'x'."),
            ("$filter=(Kind eq 1", "')' or operator expected at position 10 in '(Kind eq 1'."),
            ("$filter=Kind eq", "Expression expected at position 7 in 'Kind eq'."),
            ("$filter=Kind eq '1'", "A binary operator with incompatible types was detected. Found operand types 'Edm.Int32' and 'Edm.String' for operator kind 'Equal'."),
            ("$filter=Name", "The $filter expression must evaluate to a single boolean value."),
            ("$filter=length(Name) eq 3", "An unknown function with name 'length' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed."),
            ("$filter=Size eq 1", "Could not find a property named 'Size' on type 'Default.Widget'."),
            ("$select=Name,Size", "Could not find a property named 'Size' on type 'Default.Widget'."),
            ("$orderby=Name sideways", "Syntax error at position 5 in 'Name sideways'."),
            ("$orderby=Name,Name desc", "A column has been specified more than once in the order by list. Columns in the order by list must be unique."),
            ("$top=-1", "Invalid value '-1' for $top query option found. The $top query option requires a non-negative integer value."),
            ("$count=maybe", "Invalid value 'maybe' for $count query option found. Valid values are 'true, false'."),
            ("$top=1&$top=2", "Query option '$top' was specified more than once, but it must be specified at most once."),
            ("$apply=groupby((Name))", "The query parameter $apply is not supported"),
            ("$skiptoken=1,2", "The $skiptoken value '1,2' is not valid."),
        ],
    )  # fmt: skip
    def test_bad_queries_are_refused_with_odata_net_messages(self, store, query, message):
        with pytest.raises(ODataError) as refused:
            service(Dialect()).collection("Widgets", store, query=query)
        assert (refused.value.status, refused.value.message) == (400, message)
        assert Dialect().error_body(refused.value) == {"error": {"code": "", "message": message}}


class TestOrderAndPages:
    @pytest.mark.parametrize(
        ("orderby", "expected"),
        [
            ("Colour", [2, 4, 5, 1, 3]),  # null first ascending; equal colours by key
            ("Colour desc", [1, 3, 5, 4, 2]),  # null last descending
            ("Weight desc,Name", [4, 1, 2, 5, 3]),
            ("Name", [4, 1, 2, 3, 5]),  # "bolt" between "Anvil" and "Crate": no case
        ],
    )
    def test_order_puts_nulls_first_ascending(self, store, orderby, expected):
        answer = service(SqlDialect()).collection("Widgets", store, query=f"$orderby={orderby}")
        assert ids(answer) == expected

    def test_pages_follow_the_next_link_and_rows_added_meanwhile_do_not_shift_them(self, store):
        engine = service(SqlPages())
        prefer = ["odata.maxpagesize=2"]
        first = engine.collection(
            "Widgets", store, query="$orderby=Name&$count=true", prefer=prefer
        )
        assert ids(first) == [4, 1] and first.body["@odata.count"] == 5
        assert first.headers["Preference-Applied"] == "odata.maxpagesize=2"
        link = first.body["@odata.nextLink"]
        assert unquote(link) == f"{ROOT}/Widgets?$orderby=Name&$count=true&$skiptoken='Anvil',1"
        store["Widgets"] += [
            widget(6, "Aardvark", None, None, None, "2025-06-01T00:00:00Z", None),  # before
            widget(7, "Zebra", None, None, None, "2025-06-01T00:00:00Z", None),  # after
        ]
        store["Widgets"] = [row for row in store["Widgets"] if row["WidgetId"] != 3]
        second = follow(engine, store, link, prefer)
        third = follow(engine, store, second.body["@odata.nextLink"], prefer)
        assert ids(second) + ids(third) == [2, 5, 7]
        assert "@odata.nextLink" not in third.body

    def test_without_a_preference_the_dialect_page_size_holds_and_top_spans_pages(self, store):
        engine = service(SqlPages())
        first = engine.collection("Widgets", store, query="$top=4", prefer=["odata.maxpagesize=9"])
        assert ids(first) == [1, 2, 3] and "Preference-Applied" not in first.headers
        assert "$top=1&" in first.body["@odata.nextLink"]  # what is left of $top
        second = follow(engine, store, first.body["@odata.nextLink"])
        assert ids(second) == [4] and "@odata.nextLink" not in second.body

    def test_skip_starts_later_and_the_next_link_drops_it(self, store):
        engine = service(SqlPages())
        first = engine.collection("Widgets", store, query="$skip=1&$select=WidgetId")
        assert ids(first) == [2, 3, 4]
        assert "$skip=" not in first.body["@odata.nextLink"]
        assert ids(follow(engine, store, first.body["@odata.nextLink"])) == [5]

    @pytest.mark.parametrize("orderby", ["Weight", "Made desc", "Due", "OwnerId,Colour desc"])
    def test_one_row_pages_visit_every_row_once_in_order(self, store, orderby):
        store["Widgets"][1]["Weight"] = 1e-05  # written 1e-05 in the token
        engine = service(SqlDialect())
        whole = ids(engine.collection("Widgets", store, query=f"$orderby={orderby}"))
        page = engine.collection(
            "Widgets", store, query=f"$orderby={orderby}", prefer=["odata.maxpagesize=1"]
        )
        paged = ids(page)
        while "@odata.nextLink" in page.body:
            page = follow(engine, store, page.body["@odata.nextLink"], ["odata.maxpagesize=1"])
            paged += ids(page)
        assert paged == whole and sorted(paged) == [1, 2, 3, 4, 5]

    def test_a_token_names_every_sort_column_and_the_key(self, store):
        with pytest.raises(ODataError, match="is not valid"):
            service(SqlDialect()).collection("Widgets", store, query="$skiptoken='1'")
        with pytest.raises(ODataError, match="is not valid"):  # a null key is no position
            service(SqlDialect()).collection(
                "Widgets", store, query="$orderby=Name&$skiptoken='a',null"
            )


class TestRecords:
    def test_formatted_values_come_before_their_property_when_asked(self, store):
        engine = service(SqlDialect())
        plain = engine.collection("Widgets", store, query="$filter=WidgetId eq 1")
        assert plain.body["value"][0] == {"@odata.etag": 'W/"101"', **ROWS["Widgets"][0]}
        assert plain.body["@odata.context"] == f"{ROOT}/$metadata#Widgets"
        labelled = engine.collection(
            "Widgets",
            store,
            query="$filter=WidgetId eq 1&$select=Kind,Name",
            prefer=[f'odata.include-annotations="{ANNOTATION}"'],
        )
        assert list(labelled.body["value"][0].items()) == [
            ("@odata.etag", 'W/"101"'),
            (f"Kind@{ANNOTATION}", "Bolt"),
            ("Kind", 1),
            ("Name", "Anvil"),
        ]  # the key is not added: this dialect does not
        assert labelled.headers["Preference-Applied"] == (
            f'odata.include-annotations="{ANNOTATION}"'
        )
        excluded = engine.collection(
            "Widgets", store, prefer=[f'odata.include-annotations="*,-{ANNOTATION}"']
        )
        assert f"Kind@{ANNOTATION}" not in excluded.body["value"][0]

    def test_expand_joins_single_and_collection_navigations_with_a_nested_select(self, store):
        engine = service(Dialect())
        widgets = engine.collection(
            "Widgets", store, query="$select=Name&$expand=Owner($select=Name)&$orderby=WidgetId"
        )
        assert widgets.body["@odata.context"] == f"{ROOT}/$metadata#Widgets(Name,Owner(Name))"
        assert [(row["Name"], row["Owner"]) for row in widgets.body["value"]] == [
            ("Anvil", {"Name": "Ada"}),
            ("bolt", {"Name": "Ada"}),
            ("Crate", {"Name": "Bo"}),
            (None, None),  # no owner: a null, not a missing property
            ("O'Brien", {"Name": "Bo"}),
        ]
        owners = engine.collection("Owners", store, query="$expand=Widgets($select=WidgetId)")
        assert [
            (owner["Name"], [w["WidgetId"] for w in owner["Widgets"]])
            for owner in owners.body["value"]
        ] == [("Ada", [1, 2]), ("Bo", [3, 5])]
        whole = engine.collection("Owners", store, query="$expand=Widgets&$top=1")
        assert whole.body["value"][0]["Widgets"][0] == {
            "@odata.etag": 'W/"101"',
            **ROWS["Widgets"][0],
        }

    @pytest.mark.parametrize(
        ("expand", "message"),
        [
            ("Name", "Property 'Name' on type 'Default.Widget' is not a navigation property or complex property. Only navigation properties can be expanded."),
            ("Maker", "Could not find a property named 'Maker' on type 'Default.Widget'."),
            ("Owner($select=Age)", "Could not find a property named 'Age' on type 'Default.Owner'."),
            ("Owner($top=1)", "The query parameter $top inside $expand is not supported"),
            ("Owner,Owner", "Found multiple expand terms with same expand path 'Owner' at one $expand."),
        ],
    )  # fmt: skip
    def test_expand_refuses_what_it_cannot_join(self, store, expand, message):
        with pytest.raises(ODataError) as refused:
            service(Dialect()).collection("Widgets", store, query=f"$expand={expand}")
        assert refused.value.message == message

    def test_one_entity_by_key(self, store):
        engine = service(Dialect())
        one = engine.entity("Widgets", store, (5,), query="$select=Name&$expand=Owner")
        assert one.body == {
            "@odata.context": f"{ROOT}/$metadata#Widgets(Name)/$entity",
            "@odata.etag": 'W/"105"',
            "Name": "O'Brien",
            "Owner": {"OwnerId": OWNER_B, "Name": "Bo"},
        }
        assert one.headers["ETag"] == 'W/"105"' and one.headers["OData-Version"] == "4.0"
        with pytest.raises(ODataError) as missing:
            engine.entity("Widgets", store, (9,))
        assert missing.value.status == 404

    @pytest.mark.parametrize(
        ("text", "key"),
        [("5", (5,)), ("WidgetId=5", (5,)), (" WidgetId = 7 ", (7,))],
    )
    def test_a_key_segment_reads_bare_or_named(self, text, key):
        assert parse_key(text, WIDGETS, Dialect()) == key

    @pytest.mark.parametrize("text", ["", "x", "'5'x", "Size=5", "WidgetId=5,WidgetId=6", "null"])
    def test_a_malformed_key_segment_is_a_syntax_error(self, text):
        with pytest.raises(ODataError, match="Syntax error"):
            parse_key(text, WIDGETS, Dialect())


class TestMetadata:
    EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
    EDM = "{http://docs.oasis-open.org/odata/ns/edm}"

    def test_csdl_v4_lists_every_declared_property_navigation_and_function(self):
        root = ElementTree.fromstring(service(Dialect()).metadata())
        assert root.tag == f"{self.EDMX}Edmx" and root.get("Version") == "4.0"
        schema = root.find(f"{self.EDMX}DataServices/{self.EDM}Schema")
        assert schema.get("Namespace") == "Default"
        widget_type = schema.find(f"{self.EDM}EntityType[@Name='Widget']")
        assert [
            (p.get("Name"), p.get("Type")) for p in widget_type.findall(f"{self.EDM}Property")
        ] == [(p.name, p.edm) for p in WIDGETS.properties]
        assert [r.get("Name") for r in widget_type.iter(f"{self.EDM}PropertyRef")] == ["WidgetId"]
        owner_type = schema.find(f"{self.EDM}EntityType[@Name='Owner']")
        navigation = owner_type.find(f"{self.EDM}NavigationProperty")
        assert (navigation.get("Name"), navigation.get("Type")) == (
            "Widgets",
            "Collection(Default.Widget)",
        )
        container = schema.find(f"{self.EDM}EntityContainer")
        binding = container.find(
            f"{self.EDM}EntitySet[@Name='Owners']/{self.EDM}NavigationPropertyBinding"
        )
        assert (binding.get("Path"), binding.get("Target")) == ("Widgets", "Widgets")
        assert container.find(f"{self.EDM}FunctionImport").get("Function") == "Default.Ping"
        returned = schema.find(f"{self.EDM}Function[@Name='Ping']/{self.EDM}ReturnType")
        assert returned.get("Type") == "Default.PingResponse"


# --- ProjectData (OData v3) ------------------------------------------------------------------

PROJECT = "6f0c1a2b-0000-4000-8000-000000000001"
OTHER_PROJECT = "6f0c1a2b-0000-4000-8000-000000000002"
PROJECTS = EntitySet(
    name="Projects",
    entity_type="Project",
    key=("ProjectId",),
    properties=(
        Property("ProjectId", GUID),
        Property("ProjectName", STRING),
        Property("ProjectStartDate", DATETIME_V3),
        Property("ProjectWork", DECIMAL),
    ),
    navigations=(
        Navigation("Tasks", "Tasks", local="ProjectId", remote="ProjectId", collection=True),
    ),
)
TASKS = EntitySet(
    name="Tasks",
    entity_type="Task",
    key=("ProjectId", "TaskId"),
    properties=(
        Property("ProjectId", GUID),
        Property("TaskId", GUID),
        Property("TaskName", STRING),
        Property("TaskIndex", INT32),
    ),
    navigations=(Navigation("Project", "Projects", local="ProjectId", remote="ProjectId"),),
)


class SmallPages(ProjectDataDialect):
    page_sizes = {"Tasks": 2}


@pytest.fixture
def reporting():
    tasks = [
        {
            "ProjectId": PROJECT,
            "TaskId": f"7a000000-0000-4000-8000-00000000000{index}",
            "TaskName": f"Task {index}",
            "TaskIndex": index,
        }
        for index in range(1, 6)
    ]
    return {
        "Projects": [
            {
                "ProjectId": PROJECT,
                "ProjectName": "Harbor Point",
                "ProjectStartDate": "2026-03-02T08:00:00",
                "ProjectWork": 1240.5,
            },
            {
                "ProjectId": OTHER_PROJECT,
                "ProjectName": "Summit",
                "ProjectStartDate": "2025-11-17T08:00:00",
                "ProjectWork": None,
            },
        ],
        "Tasks": tasks,
    }


def project_data(dialect=None) -> Service:
    return Service(dialect or ProjectDataDialect(), [PROJECTS, TASKS], root=lambda: ROOT)


class TestProjectData:
    def test_json_light_names_typed_literals_and_inlinecount(self, reporting):
        answer = project_data().collection(
            "Projects",
            reporting,
            query="$filter=ProjectStartDate gt datetime'2026-01-01T00:00:00'&$inlinecount=allpages&$select=ProjectName,ProjectWork",
        )
        assert answer.body == {
            "odata.metadata": f"{ROOT}/$metadata#Projects&$select=ProjectName,ProjectWork",
            "odata.count": "1",  # v3 writes counts, Int64 and Decimal values as strings
            "value": [{"ProjectName": "Harbor Point", "ProjectWork": "1240.5"}],
        }
        assert answer.headers == {"DataServiceVersion": "3.0;"}
        by_guid = project_data().collection(
            "Projects", reporting, query=f"$filter=ProjectId eq guid'{OTHER_PROJECT.upper()}'"
        )
        assert [row["ProjectName"] for row in by_guid.body["value"]] == ["Summit"]

    def test_pages_by_entity_set_size_ignoring_maxpagesize_and_skip_works(self, reporting):
        engine = project_data(SmallPages())
        first = engine.collection("Tasks", reporting, prefer=["odata.maxpagesize=1"])
        assert [row["TaskIndex"] for row in first.body["value"]] == [1, 2]
        assert "Preference-Applied" not in first.headers
        link = first.body["odata.nextLink"]
        assert unquote(link) == (
            f"{ROOT}/Tasks?$skiptoken=guid'{PROJECT}',guid'7a000000-0000-4000-8000-000000000002'"
        )
        rest = []
        while link:
            page = follow(engine, reporting, link)
            rest += [row["TaskIndex"] for row in page.body["value"]]
            link = page.body.get("odata.nextLink")
        assert rest == [3, 4, 5]
        skipped = engine.collection(
            "Tasks", reporting, query="$skip=3&$top=1&$orderby=TaskIndex desc"
        )
        assert [row["TaskIndex"] for row in skipped.body["value"]] == [2]

    def test_a_composite_key_and_the_element_context(self, reporting):
        task = "7a000000-0000-4000-8000-000000000003"
        key = parse_key(
            f"ProjectId=guid'{PROJECT}',TaskId=guid'{task.upper()}'", TASKS, ProjectDataDialect()
        )
        one = project_data().entity(
            "Tasks", reporting, key, query="$expand=Project($select=ProjectName)"
        )
        assert one.body["odata.metadata"].startswith(f"{ROOT}/$metadata#Tasks/@Element")
        assert (one.body["TaskName"], one.body["Project"]) == (
            "Task 3",
            {"ProjectName": "Harbor Point"},
        )
        with pytest.raises(ODataError, match="Syntax error"):
            parse_key(f"ProjectId=guid'{PROJECT}'", TASKS, ProjectDataDialect())  # half a key

    def test_refusals_use_the_v3_error_body_and_count_option(self, reporting):
        with pytest.raises(ODataError) as refused:
            project_data().collection("Projects", reporting, query="$count=true")
        assert ProjectDataDialect().error_body(refused.value) == {
            "odata.error": {
                "code": "",
                "message": {
                    "lang": "en-US",
                    "value": "The query parameter $count is not supported",
                },
            }
        }
        with pytest.raises(ODataError, match="'allpages, none'"):
            project_data().collection("Projects", reporting, query="$inlinecount=true")

    def test_csdl_v3_declares_associations_for_navigations(self):
        edmx = "{http://schemas.microsoft.com/ado/2007/06/edmx}"
        edm = "{http://schemas.microsoft.com/ado/2009/11/edm}"
        root = ElementTree.fromstring(project_data().metadata())
        assert root.get("Version") == "1.0"
        schema = root.find(f"{edmx}DataServices/{edm}Schema")
        assert schema.get("Namespace") == "ReportingData"
        task = schema.find(f"{edm}EntityType[@Name='Task']")
        assert [r.get("Name") for r in task.iter(f"{edm}PropertyRef")] == ["ProjectId", "TaskId"]
        assert [p.get("Type") for p in task.findall(f"{edm}Property")] == [
            GUID,
            GUID,
            STRING,
            INT32,
        ]
        navigation = schema.find(f"{edm}EntityType[@Name='Project']/{edm}NavigationProperty")
        association = schema.find(
            f"{edm}Association[@Name='{navigation.get('Relationship').split('.')[-1]}']"
        )
        ends = {end.get("Role"): end for end in association.findall(f"{edm}End")}
        assert ends[navigation.get("ToRole")].get("Multiplicity") == "*"
        assert ends[navigation.get("ToRole")].get("Type") == "ReportingData.Task"
        container = schema.find(f"{edm}EntityContainer")
        assert [s.get("Name") for s in container.findall(f"{edm}EntitySet")] == [
            "Projects",
            "Tasks",
        ]
        assert len(container.findall(f"{edm}AssociationSet")) == 2

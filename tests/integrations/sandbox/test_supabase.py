"""The Supabase emulator, driven through PostgREST's official client on the hub's HTTP layer:
what it accepts and refuses (PostgREST's JSON errors), the frontend's column formats, upserts
on a conflict key, and row-level security by team for keys other than the service role's."""

import pytest

from config import endpoints
from integrations.connections import http
from integrations.connections.providers import supabase as provider

TEAM = endpoints.SUPABASE_TEAM_ID
USER = endpoints.SUPABASE_SYSTEM_USER_ID
OTHER_TEAM = "0b6f1e2d-3c4b-4a59-8677-8899aabbccdd"


def pg(key: str = endpoints.SUPABASE_SERVICE_KEY):
    return provider.client(
        provider.Project(url="https://unused.supabase.co", key=key, rate_key="t")
    )


def user_key(sandbox, team: str) -> str:
    return sandbox.control("supabase", "POST", "keys", {"role": "authenticated", "team_id": team})[
        "key"
    ]


def rows(sandbox, table: str) -> list[dict]:
    return sandbox.control("supabase", "GET", f"rows/{table}")


def client_row(**extra) -> dict:
    return {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "team_id": TEAM,
        "user_id": USER,
    } | extra


def test_an_insert_comes_back_as_stored_with_its_new_uuid(sandbox):
    [stored] = provider.insert(pg(), "clients", [client_row(company="Analytical Engines")])
    assert len(stored["id"]) == 36 and stored["company"] == "Analytical Engines"
    assert stored["created_at"].endswith("+00:00")
    assert rows(sandbox, "clients") == [stored]


def test_dates_times_arrays_and_numbers_come_back_in_postgres_formats(sandbox):
    room = rows(sandbox, "rooms")[0]["id"]
    [event] = provider.insert(
        pg(),
        "events",
        [
            {
                "title": "Summer party",
                "event_date": "2026-07-04",
                "start_time": "9:30",
                "end_time": "17:00:00",
                "status": "option",
                "room_ids": [room],
                "attendees": "40",
                "team_id": TEAM,
                "user_id": USER,
            }
        ],
    )
    assert (event["event_date"], event["start_time"], event["end_time"]) == (
        "2026-07-04",
        "09:30:00",
        "17:00:00",
    )
    assert event["room_ids"] == [room] and event["attendees"] == 40
    assert event["current_step"] == 1 and event["date_confirmed"] is False  # B2 defaults


@pytest.mark.contract(requests=False, reason="each case sends what PostgREST refuses, on purpose")
@pytest.mark.parametrize(
    ("table", "values", "status", "code", "message"),
    [
        ("clients", {"name": None}, 400, "23502", 'null value in column "name"'),
        ("clients", {"nickname": "x"}, 400, "PGRST204", "Could not find the 'nickname' column"),
        (
            "clients",
            {"team_id": "team-a"},
            400,
            "22P02",
            'invalid input syntax for type uuid: "team-a"',
        ),
        ("events", {"status": "Lead"}, 400, "23514", "events_status_check"),
        ("visits", {}, 404, "PGRST205", "Could not find the table 'public.visits'"),
    ],
)
def test_refusals_are_postgrest_json_errors(sandbox, table, values, status, code, message):
    base = (
        client_row()
        if table == "clients"
        else {
            "title": "Party",
            "event_date": "2026-07-04",
            "start_time": "10:00",
            "end_time": "11:00",
            "team_id": TEAM,
            "user_id": USER,
        }
    )
    with pytest.raises(provider.Refused) as refused:
        provider.insert(pg(), table, [base | values])
    assert refused.value.status == status and refused.value.code == code
    assert message in refused.value.message
    answer = sandbox.control("supabase", "GET", "calls")["log"][-1]
    assert answer["status"] == status


def test_a_batch_is_written_whole_or_not_at_all(sandbox):
    with pytest.raises(provider.Refused):
        provider.insert(pg(), "clients", [client_row(), client_row(name=None)])
    assert rows(sandbox, "clients") == []


def test_an_upsert_on_the_conflict_key_updates_the_row_it_meets(sandbox):
    offer = {
        "offer_number": "OE-2026-07-0001",
        "subject": "Offer",
        "offer_date": "2026-07-01",
        "user_id": USER,
        "team_id": TEAM,
    }
    [first] = provider.insert(pg(), "offers", [offer], on_conflict="offer_number")
    [second] = provider.insert(
        pg(), "offers", [offer | {"subject": "Offer v2"}], on_conflict="offer_number"
    )
    assert second["id"] == first["id"] and second["subject"] == "Offer v2"
    assert len(rows(sandbox, "offers")) == 1
    with pytest.raises(provider.Refused) as duplicate:
        provider.insert(pg(), "offers", [offer])
    assert duplicate.value.status == 409 and duplicate.value.code == "23505"
    assert "Key (offer_number)=(OE-2026-07-0001) already exists." in duplicate.value.details


def test_reads_filter_order_and_limit(sandbox):
    provider.insert(pg(), "clients", [client_row(name=n, email=f"{n}@x.ch") for n in "cab"])
    found = provider.read(pg(), "clients", eq={"email": "a@x.ch"})
    assert [r["name"] for r in found] == ["a"]
    some = provider.read(pg(), "clients", in_={"name": ["b", "c"]}, columns="name")
    assert sorted(r["name"] for r in some) == ["b", "c"] and set(some[0]) == {"name"}
    ordered = pg().from_("clients").select("name").order("name", desc=True).limit(2).execute().data
    assert [r["name"] for r in ordered] == ["c", "b"]


def test_update_and_delete_by_filter(sandbox):
    [row] = provider.insert(pg(), "clients", [client_row()])
    [changed] = provider.update(
        pg(), "clients", {"phone": "+41 44 000 00 00"}, eq={"id": row["id"]}
    )
    assert changed["phone"] == "+41 44 000 00 00"
    assert provider.delete(pg(), "clients", eq={"id": row["id"]}) == [changed]
    assert rows(sandbox, "clients") == []


def test_a_team_key_sees_and_writes_only_its_own_team(sandbox):
    provider.insert(
        pg(), "clients", [client_row(name="ours"), client_row(name="theirs", team_id=OTHER_TEAM)]
    )
    ours = pg(user_key(sandbox, TEAM))
    assert [r["name"] for r in provider.read(ours, "clients")] == ["ours"]
    with pytest.raises(provider.Refused) as refused:
        provider.insert(ours, "clients", [client_row(name="sneaky", team_id=OTHER_TEAM)])
    assert refused.value.status == 403 and refused.value.code == "42501"
    theirs_id = next(r["id"] for r in rows(sandbox, "clients") if r["name"] == "theirs")
    assert provider.update(ours, "clients", {"name": "taken"}, eq={"id": theirs_id}) == []
    assert provider.delete(ours, "clients", eq={"id": theirs_id}) == []
    assert {r["name"] for r in rows(sandbox, "clients")} == {"ours", "theirs"}


def test_line_items_belong_to_the_team_of_their_offer(sandbox):
    [offer] = provider.insert(
        pg(),
        "offers",
        [
            {
                "offer_number": "OE-1",
                "subject": "s",
                "offer_date": "2026-01-01",
                "user_id": USER,
                "team_id": OTHER_TEAM,
            }
        ],
    )
    provider.insert(
        pg(),
        "offer_line_items",
        [{"offer_id": offer["id"], "name": "Lunch", "quantity": 2, "unit_price": 30, "total": 60}],
    )
    assert provider.read(pg(user_key(sandbox, TEAM)), "offer_line_items") == []
    assert len(provider.read(pg(user_key(sandbox, OTHER_TEAM)), "offer_line_items")) == 1


def test_an_unknown_key_is_refused_by_the_gateway(sandbox):
    with pytest.raises(http.Unauthorized) as refused:
        provider.read(pg("eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.forged"), "clients")
    assert "Invalid API key" in refused.value.message
    assert "eyJ" not in str(refused.value)


def test_the_key_role_is_read_from_the_key():
    assert provider.key_role(endpoints.SUPABASE_SERVICE_KEY) == "service_role"
    assert provider.key_role("sb_secret_abc") == "service_role"
    assert provider.key_role("sb_publishable_abc") == "anon"
    assert provider.key_role("not a key") == ""


def test_the_contract_checks_catch_a_body_naming_no_column_and_a_bad_error_shape():
    from integrations.sandbox.contracts import Exchange, check

    bad_body = Exchange(
        method="POST",
        path="/rest/v1/clients",
        request_type="application/json",
        request_body=b'{"nickname": "x"}',
        status=201,
        response_type="application/json",
        response_body=b"[]",
    )
    assert [v.field for v in check("supabase", bad_body).violations] == ["body.nickname"]
    bad_error = Exchange(
        method="GET",
        path="/rest/v1/clients",
        query="name=equals.x",
        status=400,
        response_type="application/json",
        response_body=b'{"error": "bad"}',
    )
    fields = [v.field for v in check("supabase", bad_error).violations]
    assert fields == ["query.name", "body"]


def _offer(number: str, **extra) -> dict:
    return {
        "offer_number": number,
        "subject": "Offer",
        "offer_date": "2026-07-01",
        "user_id": USER,
        "team_id": TEAM,
    } | extra


def test_a_select_embeds_related_rows_along_the_foreign_keys(sandbox):
    [client] = provider.insert(pg(), "clients", [client_row()])
    [offer] = provider.insert(pg(), "offers", [_offer("OE-2026-07-0001", client_id=client["id"])])
    product = rows(sandbox, "products")[0]
    items = [
        {"offer_id": offer["id"], "name": name, "quantity": 1, "unit_price": 5, "total": 5}
        | ({"product_id": product["id"]} if name == "Coffee" else {})
        for name in ("Coffee", "Room")
    ]
    provider.insert(pg(), "offer_line_items", items)

    [read] = (
        pg()
        .from_("offers")
        .select("id,offer_number,buyer:clients(name,email),offer_line_items(name,products(slug))")
        .execute()
        .data
    )
    assert read["buyer"] == {"name": "Ada Lovelace", "email": "ada@example.com"}  # one object
    assert sorted(read["offer_line_items"], key=lambda i: i["name"]) == [
        {"name": "Coffee", "products": {"slug": product["slug"]}},
        {"name": "Room", "products": None},  # many-to-one with no row: null
    ]
    [everything] = pg().from_("offers").select("*,offer_line_items(*)").execute().data
    assert everything["subject"] == "Offer" and len(everything["offer_line_items"]) == 2
    assert {i["offer_id"] for i in everything["offer_line_items"]} == {offer["id"]}
    [client_side] = pg().from_("clients").select("name,offers(offer_number)").execute().data
    assert client_side == {"name": "Ada Lovelace", "offers": [{"offer_number": "OE-2026-07-0001"}]}


def test_an_embedded_table_keeps_its_row_level_security(sandbox):
    [offer] = provider.insert(pg(), "offers", [_offer("OE-2026-07-0002")])
    provider.insert(
        pg(),
        "offer_line_items",
        [{"offer_id": offer["id"], "name": "Lunch", "quantity": 1, "unit_price": 1, "total": 1}],
    )
    [client] = provider.insert(pg(), "clients", [client_row(team_id=OTHER_TEAM)])
    provider.insert(
        pg(),
        "tasks",
        [
            {
                "title": "Call",
                "category": "follow_up",
                "team_id": TEAM,
                "user_id": USER,
                "client_id": client["id"],
            }
        ],
    )
    own = pg(user_key(sandbox, TEAM))
    [mine] = own.from_("offers").select("id,offer_line_items(name)").execute().data
    assert mine["offer_line_items"] == [{"name": "Lunch"}]
    [task] = own.from_("tasks").select("title,clients(name)").execute().data
    assert task == {"title": "Call", "clients": None}  # another team's client is not shown


def test_an_embedding_without_a_relationship_is_postgrests_pgrst200(sandbox):
    with pytest.raises(provider.Refused) as refused:
        provider.read(pg(), "offers", columns="*,rooms(*)")
    error = refused.value
    assert (error.status, error.code) == (400, "PGRST200")
    assert "Could not find a relationship between 'offers' and 'rooms' in the schema cache" in (
        error.message
    )
    assert error.details == (
        "Searched for a foreign key relationship between 'offers' and 'rooms' in the schema "
        "'public', but no matches were found."
    )
    with pytest.raises(provider.Refused) as unknown:
        provider.read(pg(), "offers", columns="*,nothing_here(*)")
    assert unknown.value.code == "PGRST200"


def test_one_upsert_meeting_its_own_conflict_key_twice_is_21000_and_writes_nothing(sandbox):
    twice = [_offer("OE-2026-07-0003"), _offer("OE-2026-07-0003", subject="Again")]
    with pytest.raises(provider.Refused) as refused:
        provider.insert(pg(), "offers", twice, on_conflict="offer_number")
    error = refused.value
    assert (error.status, error.code) == (400, "21000")
    assert "ON CONFLICT DO UPDATE command cannot affect row a second time" in error.message
    assert error.hint == (
        "Ensure that no rows proposed for insertion within the same command have duplicate "
        "constrained values."
    )
    assert rows(sandbox, "offers") == []
    # DO NOTHING takes the first and skips the second (no error).
    stored = (
        pg()
        .from_("offers")
        .upsert(twice, on_conflict="offer_number", ignore_duplicates=True)
        .execute()
        .data
    )
    assert [o["subject"] for o in stored] == ["Offer"]
    assert len(rows(sandbox, "offers")) == 1


def test_the_hub_client_sends_what_httpx_would_and_answers_alike(sandbox):
    """The hub's httpx client hands postgrest-py's calls to the HTTP layer without httpx's
    Request (supabase.py, HubClient): each call reaches the layer's session with the same
    method, URL, headers and body as through httpx's own way, and postgrest-py reads the
    same answer from it (rows, a count, a refusal)."""
    import httpx
    from postgrest import APIError, SyncPostgrestClient

    fast = pg()
    transport = fast.session.hub
    assert isinstance(fast.session, httpx.Client)
    slow = SyncPostgrestClient(
        str(fast.base_url),
        headers={k: v for k, v in fast.headers.items() if k.lower() != "x-client-info"},
        http_client=httpx.Client(
            base_url=str(fast.base_url), transport=transport, follow_redirects=False
        ),
        retry_enabled=False,
    )
    sent: list[tuple] = []
    adapter = transport.session.get_adapter(str(fast.base_url))
    assert isinstance(adapter, http.HubAdapter)  # every call goes through the hub's layer
    send = adapter.send

    def recording(prepared, **options):
        sent.append(
            (prepared.method, prepared.url, sorted(prepared.headers.lower_items()), prepared.body)
        )
        return send(prepared, **options)

    adapter.send = recording
    built = []  # httpx's own way builds an httpx.Request per call; the hub client none
    fast.session.build_request = lambda *args, **kwargs: built.append(args)
    offer = {
        "offer_number": "OE-2026-08-0001",
        "subject": 'Grüezi & co, (draft) "x"',
        "offer_date": "2026-08-01",
        "user_id": USER,
        "team_id": TEAM,
    }
    calls = [
        lambda c: c.from_("offers").upsert([offer], on_conflict="offer_number"),
        lambda c: (
            c.from_("offers").select("id,subject", count="exact").eq("subject", offer["subject"])
        ),
        lambda c: (
            c.from_("offers")
            .select("*")
            .in_("offer_number", ["OE-2026-08-0001", "a,b"])
            .order("subject", desc=True)
            .limit(5)
        ),
        lambda c: (
            c.from_("offers").update({"subject": "ü?#&="}).eq("offer_number", "OE-2026-08-0001")
        ),
        lambda c: c.from_("clients").insert([{"name": None, "team_id": TEAM, "user_id": USER}]),
        lambda c: c.from_("offers").delete().eq("offer_number", "nothing@here"),
    ]
    try:
        for call in calls:
            answers = []
            for client in (fast, slow):
                try:
                    answer = call(client).execute()
                    answers.append((answer.count, [dict(row, id="") for row in answer.data]))
                except APIError as exc:  # a refusal: the same one both ways
                    answers.append((type(exc), exc.code, exc.message))
            fast_request, slow_request = sent[-2], sent[-1]
            assert fast_request == slow_request
            assert answers[0] == answers[1]
    finally:
        del adapter.send
    assert len(sent) == 2 * len(calls) and built == []
    assert not transport.session.cookies and not fast.session.cookies  # no jar kept
    assert ("user-agent", "IntegrationHub/1.0") in sent[0][2]

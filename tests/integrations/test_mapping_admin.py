"""Admin of field mapping: mapping sets with their parameter checks, preview, JSON export and
import, and the review queue of outgoing writes (approve / reject)."""

import html
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from integrations.accounts.models import AuditEvent, Membership
from integrations.approvals.models import OutboundChange
from integrations.mapping.models import FieldMapping, LookupEntry, LookupTable, MappingSet
from tests.factories import MembershipFactory, WorkspaceFactory
from tests.integrations.helpers import grant, planned

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/integrations/mappingset/"
ADD = "/admin/integrations/mappingset/add/"
IMPORT = "/admin/integrations/mappingset/import/"
QUEUE = "/admin/integrations/outboundchange/"


def page(response) -> str:
    return html.unescape(response.content.decode())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def set_form(workspace, *, name="Clients", target_entity="clients", fields=(), **extra) -> dict:
    data = {
        "workspace": workspace.pk,
        "name": name,
        "connection": "",
        "source_entity": "contacts",
        "target_entity": target_entity,
        "required_fields": "",
        "description": "",
        "fields-TOTAL_FORMS": str(len(fields)),
        "fields-INITIAL_FORMS": "0",
        "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "1000",
        **extra,
    }
    for index, row in enumerate(fields):
        data |= {
            f"fields-{index}-position": str(index),
            f"fields-{index}-source_field": row["source"],
            f"fields-{index}-target_field": row["target"],
            f"fields-{index}-transform": row["transform"],
            f"fields-{index}-params": json.dumps(row.get("params", {})),
            f"fields-{index}-direction": row.get("direction", "both"),
        }
    return data


def make_set(workspace, *, name="Contacts to clients", required=("company", "name")):
    mapping_set = MappingSet.objects.create(
        workspace=workspace,
        name=name,
        source_entity="contacts",
        target_entity="clients",
        required_fields=list(required),
    )
    rows = [
        ("organization", "company", "rename", {}, "both"),
        ("status", "status", "enum_map", {"values": {"Lead": "lead"}, "case": "upper"}, "push"),
        ("email", "email", "email", {}, "both"),
        ("title", "title", "truncate", {"max_length": 20, "suffix": "…"}, "pull"),
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
    return mapping_set


class TestMappingSetForm:
    @pytest.mark.parametrize(
        ("transform", "params", "message"),
        [
            ("truncate", {}, "truncate: the parameter 'max_length' is required."),
            (
                "enum_map",
                {"strict": "yes"},
                "enum_map: the parameter 'strict' must be true or false.",
            ),
        ],
    )
    def test_a_bad_parameter_is_a_form_error_naming_it_and_nothing_is_saved(
        self, client, superuser, two_workspaces, transform, params, message
    ):
        client.force_login(superuser)
        data = set_form(
            two_workspaces["a"],
            fields=[
                {"source": "title", "target": "name", "transform": transform, "params": params}
            ],
        )

        response = client.post(ADD, data)

        assert response.status_code == 200  # the form again, not a redirect
        formset = response.context["inline_admin_formsets"][0].formset
        assert formset.errors[0] == {"params": [message]}
        assert message in page(response)
        assert not MappingSet.objects.exists() and not FieldMapping.objects.exists()

    def test_a_good_set_saves_and_a_preset_entity_fills_its_required_fields(
        self, client, superuser, two_workspaces
    ):
        client.force_login(superuser)
        data = set_form(
            two_workspaces["a"],
            fields=[
                {
                    "source": "title",
                    "target": "name",
                    "transform": "truncate",
                    "params": {"max_length": 80},
                },
                {"source": "status", "target": "status", "transform": "enum_map"},
            ],
        )

        response = client.post(ADD, data, follow=True)

        mapping_set = MappingSet.objects.get()
        assert mapping_set.required_fields == ["name", "team_id", "user_id"]
        assert list(mapping_set.fields.values_list("transform", "params")) == [
            ("truncate", {"max_length": 80}),
            ("enum_map", {}),
        ]
        assert any("filled in the preset for clients" in m for m in messages_of(response))

    def test_required_fields_given_by_hand_are_kept(self, client, superuser, two_workspaces):
        client.force_login(superuser)
        client.post(ADD, set_form(two_workspaces["a"], required_fields='["name"]'))
        assert MappingSet.objects.get().required_fields == ["name"]

    def test_the_change_page_lists_the_transforms_with_their_parameters(
        self, client, superuser, two_workspaces
    ):
        mapping_set = make_set(two_workspaces["a"])
        client.force_login(superuser)
        text = page(client.get(f"{CHANGELIST}{mapping_set.pk}/change/"))
        assert 'id="transforms-reference"' in text
        assert "max_length</code> <strong>(required)</strong>: whole number — at least 1" in text
        assert f"{CHANGELIST}{mapping_set.pk}/preview/" in text
        assert f"{CHANGELIST}{mapping_set.pk}/export/" in text

    def test_another_workspaces_sets_are_not_listed_and_their_pages_are_not_found(
        self, client, two_workspaces
    ):
        mapping_set = make_set(two_workspaces["a"], name="Alpha's set")
        make_set(two_workspaces["b"], name="Bravo's set")
        other = two_workspaces["b_admin"]
        grant(other, "view_mappingset", "change_mappingset", "add_mappingset")
        client.force_login(other)

        listing = client.get(CHANGELIST)
        assert [s.name for s in listing.context["cl"].result_list] == ["Bravo's set"]
        assert client.get(f"{CHANGELIST}{mapping_set.pk}/preview/").status_code == 404
        assert client.get(f"{CHANGELIST}{mapping_set.pk}/export/").status_code == 404
        change = client.get(f"{CHANGELIST}{mapping_set.pk}/change/")
        assert change.status_code in (302, 404) and "Alpha's set" not in page(change)


class TestPreview:
    def preview(self, client, mapping_set, record: str):
        return client.post(f"{CHANGELIST}{mapping_set.pk}/preview/", {"record": record})

    def test_it_shows_values_errors_and_highlights_missing_required_fields(
        self, client, two_workspaces
    ):
        mapping_set = make_set(two_workspaces["a"])
        member = two_workspaces["a_member"]  # viewing is enough to preview
        grant(member, "view_mappingset")
        client.force_login(member)
        record = {"organization": "Acme AG", "status": "LEAD", "email": "not-an-email"}

        response = self.preview(client, mapping_set, json.dumps(record))

        assert response.status_code == 200
        rows = {row["target"]: row for row in response.context["rows"]}
        assert list(rows) == ["company", "status", "email", "name"]  # title maps only on pull
        assert rows["company"]["value"] == "Acme AG"
        assert rows["status"]["value"] == "lead"
        assert rows["email"]["note"] == "'not-an-email' is not an email address."
        assert rows["name"]["css"] == "missing-required"
        text = page(response)
        assert '<tr class="missing-required" data-target="name">' in text
        assert "required, empty" in text
        assert "'not-an-email' is not an email address." in text

    def test_a_required_field_that_is_filled_is_not_highlighted(
        self, client, superuser, two_workspaces
    ):
        mapping_set = make_set(two_workspaces["a"], required=("company",))
        client.force_login(superuser)
        response = self.preview(client, mapping_set, '{"organization": "Acme AG"}')
        assert 'class="missing-required"' not in page(response)
        assert response.context["rows"][0]["value"] == "Acme AG"

    def test_a_number_is_shown_as_deferred_and_not_issued(self, client, superuser, two_workspaces):
        mapping_set = make_set(two_workspaces["a"], required=())
        FieldMapping.objects.create(
            mapping_set=mapping_set,
            position=9,
            source_field="number",
            target_field="offer_number",
            transform="number",
            params={"prefix": "OE"},
        )
        client.force_login(superuser)
        response = self.preview(client, mapping_set, "{}")
        row = next(r for r in response.context["rows"] if r["target"] == "offer_number")
        assert row["css"] == "deferred"
        assert row["note"] == "deferred: given when written"

    @pytest.mark.parametrize(
        ("record", "message"),
        [
            ('{"organization":', "Not valid JSON: Expecting value (line 1, column 17)."),
            ("[1, 2]", "The sample record must be a JSON object ({…})."),
        ],
    )
    def test_a_record_that_is_not_a_json_object_is_a_form_error(
        self, client, superuser, two_workspaces, record, message
    ):
        mapping_set = make_set(two_workspaces["a"])
        client.force_login(superuser)
        response = self.preview(client, mapping_set, record)
        assert response.status_code == 200
        assert response.context["form"].errors == {"record": [message]}
        assert response.context["rows"] is None
        assert message in page(response)

    def test_the_page_starts_from_the_sets_source_fields(self, client, superuser, two_workspaces):
        mapping_set = make_set(two_workspaces["a"])
        client.force_login(superuser)
        response = client.get(f"{CHANGELIST}{mapping_set.pk}/preview/")
        assert response.status_code == 200 and response.context["rows"] is None
        assert json.loads(response.context["form"].initial["record"]) == dict.fromkeys(
            ["organization", "status", "email", "title"], ""
        )

    def test_a_user_who_may_not_view_sets_may_not_preview(self, client, two_workspaces):
        mapping_set = make_set(two_workspaces["a"])
        member = two_workspaces["a_member"]
        grant(member)  # staff, without any mapping set permission
        client.force_login(member)
        assert self.preview(client, mapping_set, "{}").status_code == 403


class TestExportAndImport:
    def export(self, client, *sets):
        return client.post(
            CHANGELIST, {"action": "export_as_json", "_selected_action": [s.pk for s in sets]}
        )

    def test_an_export_imports_back_to_the_same_set(self, client, superuser, two_workspaces):
        original = make_set(two_workspaces["a"])
        client.force_login(superuser)

        exported = self.export(client, original)
        assert exported["Content-Type"] == "application/json"
        assert 'filename="mapping-set-contacts-to-clients.json"' in exported["Content-Disposition"]
        upload = SimpleUploadedFile("set.json", exported.content, "application/json")
        response = client.post(IMPORT, {"file": upload, "workspace": two_workspaces["b"].pk})

        copy = MappingSet.objects.get(workspace=two_workspaces["b"])
        assert response.status_code == 302
        assert response["Location"] == f"{CHANGELIST}{copy.pk}/change/"

        def shape(mapping_set):
            return list(
                mapping_set.fields.values_list(
                    "position", "source_field", "target_field", "transform", "params", "direction"
                )
            )

        assert shape(copy) == shape(original) and len(shape(copy)) == 4
        assert (copy.name, copy.target_entity, copy.required_fields) == (
            original.name,
            "clients",
            ["company", "name"],
        )

    def test_the_change_page_button_and_the_action_on_several_sets_export_too(
        self, client, superuser, two_workspaces
    ):
        first = make_set(two_workspaces["a"], name="First")
        second = make_set(two_workspaces["a"], name="Second")
        client.force_login(superuser)

        one = client.get(f"{CHANGELIST}{first.pk}/export/")
        several = self.export(client, first, second)

        assert json.loads(one.content)["name"] == "First"
        assert sorted(s["name"] for s in json.loads(several.content)) == ["First", "Second"]

    def test_a_file_with_a_bad_parameter_is_refused_and_creates_nothing(
        self, client, superuser, two_workspaces
    ):
        original = make_set(two_workspaces["a"])
        client.force_login(superuser)
        data = json.loads(self.export(client, original).content)
        data["fields"][0] |= {"transform": "truncate", "params": {}}  # without max_length

        response = client.post(
            IMPORT, {"text": json.dumps(data), "workspace": two_workspaces["b"].pk}
        )

        message = "Field 1 (company): truncate: the parameter 'max_length' is required."
        assert response.status_code == 200
        assert response.context["form"].errors == {"text": [message]}
        assert message in page(response)
        assert MappingSet.objects.count() == 1 and FieldMapping.objects.count() == 4

    def test_a_name_taken_is_refused_unless_replacing(self, client, superuser, two_workspaces):
        original = make_set(two_workspaces["a"])
        client.force_login(superuser)
        data = json.loads(self.export(client, original).content)
        data["fields"] = data["fields"][:1]
        form = {"text": json.dumps(data), "workspace": two_workspaces["a"].pk}

        refused = client.post(IMPORT, form)
        replaced = client.post(IMPORT, {**form, "replace": "on"})

        assert refused.context["form"].errors == {
            "name": ["A mapping set named 'Contacts to clients' exists already."]
        }
        assert replaced.status_code == 302
        assert MappingSet.objects.get() == original and original.fields.count() == 1

    def test_invalid_json_is_a_form_error(self, client, superuser, two_workspaces):
        client.force_login(superuser)
        upload = SimpleUploadedFile("set.json", b"{nope", "application/json")
        response = client.post(IMPORT, {"file": upload, "workspace": two_workspaces["a"].pk})
        assert response.context["form"].errors == {
            "file": [
                "Not valid JSON: Expecting property name enclosed in double quotes "
                "(line 1, column 2)."
            ]
        }

    def test_only_workspaces_the_user_administers_are_offered(self, client, two_workspaces):
        member = two_workspaces["a_member"]  # a member of A, and the admin of C
        own = WorkspaceFactory(name="Charlie")
        MembershipFactory(workspace=own, user=member, role=Membership.Role.ADMIN)
        grant(member, "view_mappingset", "add_mappingset", "change_mappingset")
        client.force_login(member)
        data = {
            "format": "integration-hub.mapping-set/1",
            "name": "Imported",
            "target_entity": "clients",
            "fields": [{"source": "organization", "target": "company"}],
        }

        form = client.get(IMPORT).context["form"]
        refused = client.post(
            IMPORT, {"text": json.dumps(data), "workspace": two_workspaces["a"].pk}
        )
        accepted = client.post(IMPORT, {"text": json.dumps(data), "workspace": own.pk})

        assert list(form.fields["workspace"].queryset) == [own]
        assert "workspace" in refused.context["form"].errors
        assert not MappingSet.objects.filter(workspace=two_workspaces["a"]).exists()
        assert accepted.status_code == 302
        assert MappingSet.objects.get().workspace == own

    def test_the_changelist_links_to_the_import_page(self, client, superuser, two_workspaces):
        client.force_login(superuser)
        assert f'href="{IMPORT}"' in page(client.get(CHANGELIST))


class TestOutboundChanges:
    def act(self, client, action, *changes):
        return client.post(
            QUEUE, {"action": action, "_selected_action": [c.pk for c in changes]}, follow=True
        )

    @pytest.fixture
    def reviewer(self, client, two_workspaces):
        user = two_workspaces["a_admin"]
        grant(user, "view_outboundchange", "change_outboundchange")
        client.force_login(user)
        return user

    def test_approving_decides_the_selected_and_skips_what_was_decided(
        self, client, reviewer, two_workspaces
    ):
        a = two_workspaces["a"]
        first, second, third = planned(a), planned(a), planned(a)
        rejected = planned(a, status=OutboundChange.Status.REJECTED)

        response = self.act(client, "approve_changes", first, second, third, rejected)

        assert messages_of(response) == ["Approved 3; 1 skipped (already decided)."]
        for change in (first, second, third):
            change.refresh_from_db()
            assert (change.status, change.decided_by) == ("approved", reviewer)
            assert change.decided_at is not None
        rejected.refresh_from_db()
        assert rejected.status == "rejected" and rejected.decided_by is None
        events = AuditEvent.objects.filter(target_type="integrations.outboundchange")
        assert sorted(
            events.exclude(action="admin.action").values_list("action", "target_id")
        ) == sorted(
            ("outbound_change.approve", str(c.pk)) for c in (first, second, third)
        )  # one event per decision: no "admin.update" repeating it

    def test_rejecting_decides_and_is_audited(self, client, reviewer, two_workspaces):
        change = planned(two_workspaces["a"])

        response = self.act(client, "reject_changes", change)

        change.refresh_from_db()
        assert messages_of(response) == ["Rejected 1."]
        assert (change.status, change.decided_by) == ("rejected", reviewer)
        event = AuditEvent.objects.get(action__startswith="outbound_change.")
        assert (event.action, event.actor_label) == ("outbound_change.reject", reviewer.email)

    def test_a_member_who_is_not_admin_gets_an_error_and_nothing_changes(
        self, client, two_workspaces
    ):
        change = planned(two_workspaces["a"])
        member = two_workspaces["a_member"]
        grant(member, "view_outboundchange", "change_outboundchange")
        client.force_login(member)

        response = self.act(client, "approve_changes", change)

        assert messages_of(response) == ["Only an admin of Alpha can approve or reject changes."]
        change.refresh_from_db()
        assert change.status == "pending" and change.decided_by is None
        assert not AuditEvent.objects.filter(action__startswith="outbound_change.").exists()

    def test_the_list_shows_changes_field_by_field(self, client, reviewer, two_workspaces):
        planned(
            two_workspaces["a"],
            changes={
                "status": {"before": "lead", "after": "won"},
                "tags": {"before": None, "after": ["a", "b"]},
            },
        )
        text = page(client.get(QUEUE))
        assert "<li>status: lead → won</li>" in text
        assert '<li>tags: — → ["a", "b"]</li>' in text

    def test_another_workspaces_changes_are_not_listed_nor_decided(self, client, two_workspaces):
        theirs = planned(two_workspaces["a"], target_label="Alpha only")
        other = two_workspaces["b_admin"]
        grant(other, "view_outboundchange")
        client.force_login(other)

        listing = client.get(QUEUE)
        detail = client.get(f"{QUEUE}{theirs.pk}/change/")
        self.act(client, "approve_changes", theirs)

        assert list(listing.context["cl"].result_list) == []
        assert detail.status_code in (302, 404) and "Alpha only" not in page(detail)
        theirs.refresh_from_db()
        assert theirs.status == "pending"

    def test_the_queue_is_read_only(self, client, reviewer, two_workspaces):
        change = planned(two_workspaces["a"])
        text = page(client.get(f"{QUEUE}{change.pk}/change/"))
        assert "status: lead → won" in text
        assert 'name="_save"' not in text


class TestLookupTables:
    def test_entries_are_kept_normalised_and_a_duplicate_key_is_a_form_error(
        self, client, superuser, two_workspaces
    ):
        client.force_login(superuser)
        data = {
            "workspace": two_workspaces["a"].pk,
            "name": "teams",
            "description": "",
            "entries-TOTAL_FORMS": "2",
            "entries-INITIAL_FORMS": "0",
            "entries-MIN_NUM_FORMS": "0",
            "entries-MAX_NUM_FORMS": "1000",
            "entries-0-key": " Sales@Example.com ",
            "entries-0-value": "6f1c1d44-8d7e-4c1e-9a55-0e6f3f7d2a11",
            "entries-1-key": "sales@example.com",
            "entries-1-value": "0b7c2f6a-3a4e-4d35-8d3b-5a2f9f1e6c22",
        }

        refused = client.post("/admin/integrations/lookuptable/add/", data)
        assert refused.status_code == 200 and not LookupTable.objects.exists()

        saved = client.post(
            "/admin/integrations/lookuptable/add/", {**data, "entries-TOTAL_FORMS": "1"}
        )
        assert saved.status_code == 302
        assert list(LookupEntry.objects.values_list("key", flat=True)) == ["sales@example.com"]

    def test_another_workspaces_tables_are_not_listed(self, client, two_workspaces):
        LookupTable.objects.create(workspace=two_workspaces["a"], name="alpha-teams")
        LookupTable.objects.create(workspace=two_workspaces["b"], name="bravo-teams")
        other = two_workspaces["b_admin"]
        grant(other, "view_lookuptable")
        client.force_login(other)
        listing = client.get("/admin/integrations/lookuptable/")
        assert [t.name for t in listing.context["cl"].result_list] == ["bravo-teams"]

    def test_deleting_an_entry_moves_the_version_on(self, client, superuser, two_workspaces):
        # Cached lookups are keyed by version: a deleted key must not be answered any more.
        table = LookupTable.objects.create(workspace=two_workspaces["a"], name="teams")
        entry = LookupEntry.objects.create(
            table=table, key="sales", value="6f1c1d44-8d7e-4c1e-9a55-0e6f3f7d2a11"
        )
        table.refresh_from_db()
        before = table.version
        client.force_login(superuser)

        response = client.post(
            f"/admin/integrations/lookuptable/{table.pk}/change/",
            {
                "workspace": table.workspace_id,
                "name": "teams",
                "description": "",
                "entries-TOTAL_FORMS": "1",
                "entries-INITIAL_FORMS": "1",
                "entries-MIN_NUM_FORMS": "0",
                "entries-MAX_NUM_FORMS": "1000",
                "entries-0-id": entry.pk,
                "entries-0-table": table.pk,
                "entries-0-key": "sales",
                "entries-0-value": str(entry.value),
                "entries-0-DELETE": "on",
            },
        )

        assert response.status_code == 302
        table.refresh_from_db()
        assert not LookupEntry.objects.exists() and table.version == before + 1

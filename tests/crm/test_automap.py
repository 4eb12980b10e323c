"""Auto-map on its own (crm.selectors.automap): pairs of unmapped CRM and hub fields by the
likeness of their names (or the CRM's labels) and how well their types fit, each field in one
pair at most, the surest first. No database, no CRM."""

import pytest

from crm.selectors import (
    CHECKED_FROM,
    PROPOSE_FROM,
    automap,
    hub_fields,
    name_similarity,
    name_words,
)


def crm(name, type_="string", label="", writable=True):
    return {
        "name": name,
        "label": label or name,
        "type": type_,
        "createable": writable,
        "updateable": writable,
    }


def hub(name, kind="text", label=""):
    return {"name": name, "label": label or name.replace("_", " "), "kind": kind, "required": False}


def pairs(proposals):
    return {p.crm_field: (p.app_field, p.percent) for p in proposals}


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("BillingPostalCode", ["billing", "postal", "code"]),
        ("billing_postal_code", ["billing", "postal", "code"]),
        ("Zip/Postal Code", ["postal", "code"]),
        ("hs_lead_status", ["lead", "status"]),
        ("Region__c", ["region"]),
        ("E-mail", ["email"]),
        ("jobtitle", ["title"]),
        ("SLAExpirationDate", ["sla", "expiration", "date"]),
    ],
)
def test_a_name_becomes_words_whatever_its_case_style(name, words):
    assert name_words(name) == words


def test_the_same_words_are_a_sure_match_and_others_less():
    assert name_similarity("BillingCity", "billing_city") == 1.0
    assert name_similarity("MobilePhone", "phone") < 1.0
    assert name_similarity("Description", "phone") < PROPOSE_FROM


def test_fields_pair_by_name_and_type_surest_first():
    proposals = automap(
        [
            crm("Website", "url"),
            crm("Phone", "phone"),
            crm("MobilePhone", "phone"),
            crm("BillingPostalCode", "string", "Billing Zip/Postal Code"),
            crm("Description", "textarea"),
        ],
        [hub("website", "url"), hub("phone"), hub("billing_postal_code"), hub("notes")],
    )
    found = pairs(proposals)
    assert found["Website"] == ("website", 100)
    assert found["BillingPostalCode"] == ("billing_postal_code", 100)
    assert found["Phone"] == ("phone", 90)  # a phone number in a text column: a little less sure
    assert "MobilePhone" not in found  # phone is taken by the better pair
    assert "Description" not in found  # nothing like it on the hub side
    assert [p.confidence for p in proposals] == sorted(
        (p.confidence for p in proposals), reverse=True
    )
    assert all(p.checked for p in proposals if p.confidence >= CHECKED_FROM)


def test_a_crm_label_counts_as_much_as_its_name():
    found = pairs(automap([crm("zip", "string", "Postal code")], [hub("postal_code")]))
    assert found == {"zip": ("postal_code", 100)}


def test_types_that_do_not_fit_are_never_paired():
    proposals = automap(
        [crm("Active", "boolean"), crm("Employees", "int"), crm("AccountId", "reference")],
        [hub("active", "date"), hub("employees", "bool"), hub("account_id")],
    )
    assert proposals == []


def test_a_loose_fit_lowers_the_confidence():
    number_as_text = pairs(automap([crm("Employees", "int")], [hub("employees")]))
    assert number_as_text == {"Employees": ("employees", 60)}


def test_mapped_fields_are_left_out_on_both_sides():
    proposals = automap(
        [crm("Name"), crm("Phone", "phone"), crm("Fax", "phone")],
        [hub("name"), hub("phone"), hub("fax")],
        mapped_crm={"Name"},
        mapped_app={"phone"},
    )
    assert pairs(proposals) == {"Fax": ("fax", 90)}


def test_a_field_the_crm_sets_itself_is_proposed_pull_only():
    [proposal] = automap([crm("Industry", "picklist", writable=False)], [hub("industry")])
    assert (proposal.app_field, proposal.direction) == ("industry", "pull")
    [writable] = automap([crm("Industry", "picklist")], [hub("industry")])
    assert writable.direction == "both"


def test_the_hub_fields_carry_their_kind_and_whether_a_record_needs_them():
    fields = {f["name"]: f for f in hub_fields("contact")}
    assert fields["email"]["kind"] == "email" and fields["last_name"]["required"]
    assert not fields["first_name"]["required"]
    assert not {"id", "workspace", "account", "owner", "updated_at"} & set(fields)
    assert {f["name"]: f["kind"] for f in hub_fields("account")}["website"] == "url"


def test_hubspots_field_type_says_what_its_type_does_not():
    # A yes/no property is an enumeration shown as a checkbox: it pairs with a hub boolean.
    opted = {**crm("opted_in", "enumeration"), "field_type": "booleancheckbox"}
    assert pairs(automap([opted], [hub("opted_in", "bool")])) == {"opted_in": ("opted_in", 100)}
    assert automap([crm("opted_in", "enumeration")], [hub("opted_in", "bool")]) == []
    phone = {**crm("phone", "string"), "field_type": "phonenumber"}
    assert pairs(automap([phone], [hub("phone")])) == {"phone": ("phone", 90)}

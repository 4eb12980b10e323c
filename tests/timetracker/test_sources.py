"""The seed's field rules, record by record (no network)."""

import pytest

from timetracker.sources import (
    SMARTSHEET_JOBS_MAPPING,
    default_mapper,
    job_from,
    job_from_dataverse,
)

FORMATTED = "@OData.Community.Display.V1.FormattedValue"


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (None, "See Work Order"),
        ("", "See Work Order"),
        ("   ", "See Work Order"),
        ("Casework, level 2", "Casework, level 2"),
        ("x" * 255, "x" * 255),  # fits exactly: kept whole
        ("x" * 256, "See Work Order"),  # replaced, never cut
    ],
)
def test_scope_is_kept_or_replaced_never_cut(scope, expected):
    """The seed's `_truncate_scope`, as both sources' mapping sets apply it."""
    assert (
        job_from_dataverse({"imi_imnumber": "1", "imi_scopesummary": scope})["job_scope"]
        == expected
    )
    rollback = default_mapper(SMARTSHEET_JOBS_MAPPING)
    assert (
        job_from({"im_number": "1", "job_scope": scope}, rollback, "row")["job_scope"] == expected
    )


def test_a_rollback_row_maps_like_a_dataverse_record():
    rollback = default_mapper(SMARTSHEET_JOBS_MAPPING)
    job = job_from(
        {
            "im_number": " 24-0101 ",
            "general_contractor": None,
            "job_scope": "Casework",
            "submittal_status": "Approved",
        },
        rollback,
        "row 1",
    )
    assert job == {
        "im_number": "24-0101",
        "general_contractor": "Unknown",
        "job_scope": "Casework",
        "dataverse_id": None,
        "submittal_status": 826130004,
        "submittal_status_label": "Approved",
        "production_phase": None,
        "production_phase_label": "",
    }
    assert job_from({"im_number": "  ", "submittal_status": "Approved"}, rollback, "r") is None


def test_a_record_maps_as_the_seed_says():
    job = job_from_dataverse(
        {
            "imi_jobid": "0b0f6a8e-3c1d-4f7a-9a51-1d2c3b4a5e6f",
            "imi_imnumber": 24017,
            "imi_gc": None,
            "imi_scopesummary": "Millwork " * 40,
            "imi_submittalstatus": 826130004,
            "imi_productionphase": 826130002,
            f"imi_productionphase{FORMATTED}": "Fabrication",
        }
    )
    assert job == {
        "im_number": "24017",  # str(), as the seed does
        "general_contractor": "Unknown",
        "job_scope": "See Work Order",
        "dataverse_id": "0b0f6a8e-3c1d-4f7a-9a51-1d2c3b4a5e6f",
        "submittal_status": 826130004,
        "submittal_status_label": "Approved",
        "production_phase": 826130002,
        "production_phase_label": "Fabrication",
    }


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (826130000, "Needed"),
        (826130001, "Ready to Submit"),
        (826130002, "AWT Approval"),
        (826130003, "Update with Field #'s"),
        (826130004, "Approved"),
        (826130005, "N/A"),
        (999, "Unknown"),
        (None, ""),
    ],
)
def test_status_labels(status, label):
    job = job_from_dataverse({"imi_imnumber": "1", "imi_submittalstatus": status})
    assert job["submittal_status_label"] == label


@pytest.mark.parametrize("number", [None, "", "  "])
def test_a_record_without_an_im_number_is_not_a_job(number):
    assert job_from_dataverse({"imi_jobid": "x", "imi_imnumber": number}) is None

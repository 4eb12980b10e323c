"""The OpenAPI schema of every app's API: generated and validated with no warning."""

import pytest
from django.core.management import call_command


def test_the_api_schema_is_valid_and_warning_free(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    schema = (tmp_path / "s.yml").read_text()
    for path in (
        "/api/projects/{project_id}/smartsheet/sync",
        "/api/timetracker/process-approved-jobs",
        "/api/integrations/outbound-changes/approve",
        "/api/integrations/transforms",
    ):
        assert f"  {path}:" in schema, path


def test_a_decimal_pattern_admits_what_the_api_takes_and_nothing_it_refuses():
    # drf-spectacular's own pattern let "-", "." and "" through, which DRF refuses (the fuzzer
    # sent contract_amount "-" and was told "A valid number is required.").
    import re

    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.exceptions import ValidationError

    from projects.api import ProjectIn

    schema = SchemaGenerator().get_schema(request=None, public=True)
    patterns = {
        schema_["properties"]["contract_amount"]["pattern"]
        for schema_ in schema["components"]["schemas"].values()
        if "contract_amount" in schema_.get("properties", {})
    }
    field = ProjectIn().fields["contract_amount"]
    assert patterns
    for pattern in patterns:
        for text in ("-", ".", "", "-.", "1.", ".5", "-0.25", "12", "1.234", "x", "1e3"):
            if re.fullmatch(pattern, text):
                field.run_validation(text)  # what the schema promises, the API takes
        for text in ("-", ".", "", "-.", "1.234", "x"):
            assert not re.fullmatch(pattern, text), (pattern, text)
    with pytest.raises(ValidationError):
        field.run_validation("-")

"""The OpenAPI schema of every app's API: generated and validated with no warning."""

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

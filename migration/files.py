"""MS Project files uploaded for migration (issue 18): the bytes as uploaded, kept in the
database so that the worker that reads them (never the web process) finds them whatever host
it runs on; a run names its files in `project_ids` as "file:<id>"."""

from django.conf import settings
from django.db import models

from integrations.accounts.models import WorkspaceOwned

FILE_PREFIX = "file:"


class MigrationFile(WorkspaceOwned):
    """One uploaded MS Project file (MPP, MSPDI XML, MPX, XER, ...). Never changed: a changed
    file is uploaded again (a new row) and, having the same project GUID or name, maps onto
    the same Smartsheet rows."""

    name = models.CharField(max_length=255, help_text="The file's name as uploaded.")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    content = models.BinaryField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "MS Project file"

    def __str__(self) -> str:
        return f"{self.name} ({self.size:,} bytes)"

    @property
    def project_key(self) -> str:
        """How a run names this file among its projects."""
        return f"{FILE_PREFIX}{self.pk}"

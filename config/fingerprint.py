"""What a migrated database depends on, as one short hash: the hub's migration files and the
pinned packages (their migrations: Django's, django-celery-beat's, allauth's). A database
migrated once can be kept as a template under this name and copied while it holds: the
test suite's and the benches' templates are named by it."""

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def migrations_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in [ROOT / "requirements" / "base.txt", *sorted(ROOT.glob("*/migrations/*.py"))]:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]

"""/health/: is this deployment able to do its work right now?

Four checks — database, broker, a worker answering a ping through the broker, and beat's last
tick — each reported with its timing. 200 when all pass, 503 otherwise. The body says what
failed in plain words but never echoes an exception (which could carry a URL with a password).
"""

import time

from celery import current_app
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from integrations.heartbeats import Heartbeat


def _timed(check) -> dict:
    started = time.monotonic()
    try:
        result = check()
    except Exception as exc:  # noqa: BLE001 - any failure of a dependency is "not ok"
        result = {"ok": False, "error": f"unreachable ({type(exc).__name__})"}
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def check_broker() -> dict:
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=settings.HEALTH_TIMEOUT)
        conn.default_channel  # noqa: B018 - opening a channel proves the broker answers
    return {"ok": True}


def check_worker() -> dict:
    replies = current_app.control.ping(timeout=settings.HEALTH_TIMEOUT, limit=1)
    if not replies:
        return {"ok": False, "error": f"no worker answered within {settings.HEALTH_TIMEOUT}s"}
    return {"ok": True, "replies": len(replies)}


def check_beat() -> dict:
    beat = Heartbeat.objects.filter(name="beat").first()
    if beat is None:
        return {"ok": False, "error": "beat has never ticked"}
    age = (timezone.now() - beat.at).total_seconds()
    result = {
        "ok": age <= settings.HEALTH_BEAT_MAX_AGE,
        "last_tick": beat.at.isoformat(),
        "age_s": round(age, 1),
    }
    if not result["ok"]:
        result["error"] = f"no tick for {round(age)}s"
    return result


@never_cache
@require_GET
def health(request) -> JsonResponse:
    checks = {"database": _timed(check_database), "broker": _timed(check_broker)}
    if checks["broker"]["ok"]:
        checks["worker"] = _timed(check_worker)
    else:
        # A ping through a dead broker would only hang until its own timeout.
        checks["worker"] = {"ok": False, "error": "skipped: the broker is down", "ms": 0.0}
    checks["beat"] = (
        _timed(check_beat)
        if checks["database"]["ok"]
        else {"ok": False, "error": "skipped: the database is down", "ms": 0.0}
    )
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )

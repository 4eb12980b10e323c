"""/health/: database, broker, a worker's ping through the broker, and beat's last tick."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app
from integrations import heartbeats
from integrations.heartbeats import Heartbeat


@pytest.fixture
def beat_just_ticked(transactional_db):
    heartbeats.heartbeat_touch(name="beat")


def test_all_green_is_a_200(client, celery_worker, beat_just_ticked):
    response = client.get("/health/")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "broker": True,
        "worker": True,
        "beat": True,
    }
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_broker_that_is_down_is_a_503(client, monkeypatch, beat_just_ticked):
    # Nothing listens on port 1: the broker is unreachable, as when Redis is stopped.
    # (Celery reads CELERY_BROKER_URL from the environment before its own configuration.)
    down = "redis://:hunter2@127.0.0.1:1/0"
    monkeypatch.setattr(app.conf, "broker_url", down)  # before setenv: its undo value is read now
    monkeypatch.setenv("CELERY_BROKER_URL", down)

    response = client.get("/health/")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["worker"] == {
        "ok": False,
        "error": "skipped: the broker is down",
        "ms": 0.0,
    }
    assert body["checks"]["database"]["ok"] is True
    assert b"hunter2" not in response.content


def test_no_worker_is_a_503(client, beat_just_ticked, settings):
    settings.HEALTH_TIMEOUT = 1
    body = client.get("/health/").json()
    assert body["checks"]["worker"]["ok"] is False
    assert body["status"] == "unavailable"


def test_a_stale_beat_is_a_503(client, celery_worker):
    Heartbeat.objects.create(name="beat", at=timezone.now() - timedelta(minutes=10))
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["beat"]["ok"] is False
    assert response.json()["checks"]["worker"]["ok"] is True


def test_the_beat_scheduler_leaves_a_heartbeat(transactional_db):
    from integrations.beat import HubScheduler

    scheduler = HubScheduler(app=app, lazy=True)
    scheduler.setup_schedule()
    scheduler.tick()
    assert Heartbeat.objects.get(name="beat").at > timezone.now() - timedelta(seconds=5)

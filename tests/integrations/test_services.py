"""Platform services: the audit writer, the beat schedule, memberships."""

from datetime import timedelta

import pytest
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from integrations import schedules as schedule_writer
from integrations.accounts import audit as audit_log
from integrations.accounts import services as accounts
from integrations.accounts.models import AuditEvent, Membership
from integrations.errors import Conflict
from integrations.redaction import REDACTED
from integrations.schedules import SCHEDULES, Schedule

pytestmark = pytest.mark.django_db


class TestAuditRecord:
    def test_it_stores_only_changed_fields_with_secrets_redacted(self, two_workspaces):
        event = audit_log.audit_record(
            action="connection.update",
            workspace=two_workspaces["a"],
            target_type="integrations.connection",
            target_id="7",
            before={"label": "Old", "refresh_token": "r-old", "scopes": ["a"]},
            after={"label": "New", "refresh_token": "r-new", "scopes": ["a"]},
            details={"note": "exchanged code, access_token=abc123"},
        )
        event.refresh_from_db()
        assert event.changes == {
            "label": {"before": "Old", "after": "New"},
            "refresh_token": {"before": REDACTED, "after": REDACTED},
        }
        assert "abc123" not in event.details["note"]

    def test_events_are_append_only(self, two_workspaces):
        event = audit_log.audit_record(action="x", workspace=two_workspaces["a"])
        event.action = "y"
        with pytest.raises(ValueError):
            event.save()

    def test_without_a_user_or_task_the_actor_is_the_system(self):
        assert audit_log.audit_record(action="x").actor_kind == "system"

    def test_it_belongs_to_the_targets_workspace(self, two_workspaces):
        membership = Membership.objects.get(user=two_workspaces["b_admin"])
        assert (
            audit_log.audit_record(action="x", target=membership).workspace == two_workspaces["b"]
        )

    def test_a_rolled_back_change_leaves_no_event(self, two_workspaces):
        with pytest.raises(Conflict):
            accounts.membership_change_role(
                membership=Membership.objects.get(user=two_workspaces["b_admin"]),
                role="member",
                actor=two_workspaces["b_admin"],
            )
        assert not AuditEvent.objects.exists()


class TestPeriodicTasksSync:
    def rows(self):
        return (
            sorted(
                PeriodicTask.objects.values_list(
                    "pk", "name", "task", "interval_id", "crontab_id", "enabled"
                )
            ),
            IntervalSchedule.objects.count(),
            CrontabSchedule.objects.count(),
        )

    def test_running_it_twice_gives_the_same_rows(self):
        first = schedule_writer.periodic_tasks_sync()
        rows = self.rows()
        second = schedule_writer.periodic_tasks_sync()
        names = [schedule.name for schedule in SCHEDULES]
        assert first["created"] == names
        assert second == {"created": [], "updated": [], "unchanged": names, "removed": []}
        assert self.rows() == rows

    def test_a_paused_task_stays_paused(self):
        schedule_writer.periodic_tasks_sync()
        PeriodicTask.objects.filter(name="hub.heartbeat").update(enabled=False)
        schedule_writer.periodic_tasks_sync()
        assert PeriodicTask.objects.get(name="hub.heartbeat").enabled is False

    def test_it_updates_changed_entries_and_removes_dropped_ones(self):
        schedule_writer.periodic_tasks_sync()
        PeriodicTask.objects.create(
            name="hand made", task="x", interval=IntervalSchedule.objects.first()
        )
        schedules = (
            Schedule(
                name="hub.daily",
                task="integrations.heartbeat",
                crontab="0 6 * * *",
                timezone="America/New_York",
                description="Daily at six, New York time.",
            ),
        )
        outcome = schedule_writer.periodic_tasks_sync(schedules=schedules)
        assert outcome == {
            "created": ["hub.daily"],
            "updated": [],
            "unchanged": [],
            "removed": sorted(schedule.name for schedule in SCHEDULES),
        }
        daily = PeriodicTask.objects.get(name="hub.daily")
        assert (daily.crontab.hour, daily.crontab.minute, str(daily.crontab.timezone)) == (
            "6",
            "0",
            "America/New_York",
        )
        assert PeriodicTask.objects.filter(name="hand made").exists()  # not ours to remove

        changed = (
            Schedule(
                name="hub.daily",
                task="integrations.heartbeat",
                every=timedelta(minutes=5),
                description="x",
            ),
        )
        assert schedule_writer.periodic_tasks_sync(schedules=changed)["updated"] == ["hub.daily"]
        assert PeriodicTask.objects.get(name="hub.daily").interval.every == 300

    def test_a_schedule_needs_exactly_one_timing(self):
        with pytest.raises(ValueError):
            Schedule(name="hub.x", task="t", description="d")
        with pytest.raises(ValueError):
            Schedule(name="other.x", task="t", description="d", every=timedelta(seconds=1))


class TestWorkspaces:
    def test_slugs_stay_unique(self):
        first = accounts.workspace_create(name="Shop")
        second = accounts.workspace_create(name="Shop")
        assert (first.slug, second.slug) == ("shop", "shop-2")

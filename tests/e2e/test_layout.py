"""Every hub page on a phone (390 CSS px wide, mobile viewport rules on): nothing scrolls
sideways, the navigation and Sign out stay on screen, and every form field has a label. The
sandbox consent pages the popup visits are held to the same, and everything has a favicon."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import CrmConfig, SyncLog
from integrations import approvals
from integrations.accounts.models import Membership
from integrations.connections.models import Connection
from projects import services as projects
from projects.models import ProjectSheetLink, ProjectSyncRun, UnmappedRow
from tests.factories import MembershipFactory
from tests.integrations.helpers import connect
from tests.projects.helpers import timeline
from timetracker.models import Employee, Job, JobSyncRun, Shift

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH = 390
PHONE = {
    "viewport": {"width": WIDTH, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,  # honour <meta name="viewport">, as a phone does
    "has_touch": True,
}

# Fields without a label, or with a label that says nothing (a <label> wrapped round the
# field alone counts for el.labels but shows no words).
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter((el) => el.type !== 'hidden' && el.getClientRects().length > 0)
  .filter((el) => {
    if ((el.getAttribute('aria-label') || '').trim()) return false;
    return ![...el.labels].some((label) => {
      const copy = label.cloneNode(true);
      copy.querySelectorAll('input, select, textarea').forEach((field) => field.remove());
      return copy.textContent.trim() !== '';
    });
  })
  .map((el) => el.outerHTML.slice(0, 120))"""

# The header's links and buttons (the navigation and Sign out), each with whether it is shown
# whole inside the viewport.
HEADER = """(width) => [...document.querySelectorAll('header a, header button')].map((el) => {
  const box = el.getBoundingClientRect();
  const shown = el.getClientRects().length > 0 && box.left >= 0 && box.right <= width;
  return [el.textContent.trim(), shown];
})"""
NAVIGATION = ["Projects", "TimeTracker", "CRM", "Connections", "Review", "Admin", "API", "Sign out"]


@pytest.fixture
def phone(browser, hub, client):
    """A page as a phone shows it, signed in as the given user (or anonymous with None)."""
    contexts = []

    def open_as(user=None):
        context = browser.new_context(**PHONE)
        if user is not None:
            client.force_login(user)
            context.add_cookies(
                [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": hub.url}]
            )
        contexts.append(context)
        return context.new_page()

    yield open_as
    for context in contexts:
        context.close()


def assert_fits(page, *, header: list[str] | None = NAVIGATION, labels: bool = True) -> None:
    where = page.url
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{where} is {width} px wide"
    if header is not None:
        items = dict(page.evaluate(HEADER, WIDTH))
        assert [name for name in header if not items.get(name)] == [], where
        assert [name for name, shown in items.items() if not shown] == [], where
    if labels:
        assert page.evaluate(UNLABELLED) == [], where


@pytest.fixture
def busy_workspace(two_workspaces, sandbox):
    """An admin of two workspaces with something on every page: Smartsheet and the Salesforce
    sandbox org connected, a project with a timeline, 78 jobs with shifts, a past import and
    a change waiting for review. Long names, as real ones are."""
    admin, workspace = two_workspaces["a_admin"], two_workspaces["a"]
    admin.is_staff = True  # the Admin link too
    admin.email = "alexandra.montgomery-vanderbilt@construction-example.com"
    admin.save()
    MembershipFactory(workspace=two_workspaces["b"], user=admin, role=Membership.Role.ADMIN)
    connect(sandbox, user=admin, workspace=workspace, provider="smartsheet")
    connect(sandbox, user=admin, workspace=workspace, provider="salesforce", domain="test")
    project = projects.project_create(
        workspace=workspace, actor=admin, number="2201", name="Harbor Clinic Level 3 Casework"
    )
    timeline(project, admin, task_blocks=2, per_block={"purchaseorder": 1, "comment": 1})
    jobs = [
        Job.objects.create(
            workspace=workspace,
            im_number=f"24-{n:04d}",
            general_contractor="Turner Construction Company of New England",
            job_scope="Millwork, casework and solid-surface countertops, levels 1 to 3",
            submittal_status_label="Approved",
            production_phase_label="Shop drawings",
        )
        for n in range(78)
    ]
    employee = Employee.objects.create(
        workspace=workspace, user=admin, first_name="Alexandra", email=admin.email
    )
    start = timezone.now() - timedelta(days=1)
    Shift.objects.create(
        workspace=workspace,
        job=jobs[0],
        employee=employee,
        punched_in_at=start,
        punched_out_at=start + timedelta(hours=7),
        note="Level 3 casework, east wing, waiting on the countertop templates",
    )
    JobSyncRun.objects.create(
        workspace=workspace,
        source="dataverse",
        status="succeeded",
        message="78 added, 0 skipped, 0 without an IM number",
    )
    connection = Connection.objects.create(
        workspace=workspace, provider="hubspot", requires_approval=True, access_token="x"
    )
    approvals.register_applier("test.layout", lambda change: None)
    approvals.plan(
        workspace=workspace,
        owner="test.layout",
        connection=connection,
        target_entity="contact",
        target_id="901",
        target_label="Anna Muster-Oberholzer",
        operation="update",
        before={"email": "anna.muster-oberholzer@old-domain.example.com"},
        after={"email": "anna.muster-oberholzer@new-domain.example.com"},
    )
    yield {"admin": admin, "workspace": workspace, "project": project, "job": jobs[0]}
    approvals.APPLIERS.pop("test.layout", None)


def test_every_hub_page_fits_a_phone_with_labelled_fields(phone, hub, busy_workspace):
    admin, project, job = busy_workspace["admin"], busy_workspace["project"], busy_workspace["job"]
    page = phone(admin)
    for path, ready in [
        ("/", "h1"),
        ("/projects/", "h1"),
        ("/integrations/connections/", "tr.provider"),
        ("/integrations/review/", "#changes tbody tr"),
        ("/timetracker/", "#job"),
        ("/timetracker/jobs/", "#sync-jobs"),
        (f"/timetracker/jobs/{job.pk}/", "#total-hours"),
        # The popup's page, as a callback without a state leaves it.
        ("/integrations/hubspot/auth/callback", "#outcome"),
    ]:
        page.goto(f"{hub.url}{path}")
        page.wait_for_selector(ready)
        assert_fits(page)

    # A project's timeline before it has a sheet (the forms to make or attach one)...
    page.goto(f"{hub.url}/projects/{project.pk}/")
    page.wait_for_selector("#add-comment")
    assert_fits(page)
    assert page.locator("#smartsheet button.disconnect").is_visible()

    # ...and with one: sync buttons, a finished run, rows nobody here owns and their page.
    link = ProjectSheetLink.objects.create(
        workspace=project.workspace,
        project=project,
        sheet_id=4_583_173_393_803_140,
        sheet_name="2201 Harbor Clinic Level 3 Casework",
        permalink="https://app.smartsheet.com/sheets/4583173393803140",
    )
    ProjectSyncRun.objects.create(
        workspace=project.workspace,
        project=project,
        direction="inbound",
        status="succeeded",
        requested_by=admin,
        message="0 created, 2 updated, 14 unchanged, 1 unmapped",
    )
    UnmappedRow.objects.create(
        workspace=project.workspace,
        link=link,
        row_id=8_294_610_583_012_228,
        cells={"name": "Crane booking for the countertop delivery", "type": "Comment"},
    )
    page.goto(f"{hub.url}/projects/{project.pk}/")
    page.wait_for_selector("button.sync")
    page.click("#recent-runs summary")
    assert_fits(page)
    page.goto(f"{hub.url}/projects/{project.pk}/unmapped/")
    page.wait_for_selector("#unmapped-rows")
    assert_fits(page)

    # The CRM pages: no CRM yet, then a card, the history, a run with errors, Configure, the
    # connect wizard's steps, the field mappings with auto-map, the preview and a dialog.
    page.goto(f"{hub.url}/crm/")
    page.wait_for_selector("#crm-empty")
    assert_fits(page)
    config = CrmConfig.objects.create(
        workspace=project.workspace,
        provider="salesforce",
        connection=Connection.objects.get(workspace=project.workspace, provider="salesforce"),
        entities=["account", "contact"],
        api_usage={"used": 12_345, "limit": 15_000},
        last_sync_at=timezone.now(),
    )
    log = SyncLog.objects.create(
        workspace=project.workspace,
        config=config,
        entity="contact",
        direction="bidirectional",
        trigger="schedule",
        status="partial",
        failed=1,
        errors=[{"item": "contact 0035g00000AbCdEAAZ", "message": "REQUIRED_FIELD_MISSING: x"}],
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    for path, ready in [
        ("/crm/", "#crm-salesforce"),
        ("/crm/history/", "#runs"),
        (f"/crm/history/{log.pk}/", "#errors"),
        (f"/crm/configs/{config.pk}/settings", "#config-form"),
        ("/crm/connect/", "#provider-salesforce"),
        (f"/crm/configs/{config.pk}/setup", "#setup-form"),
        (f"/crm/configs/{config.pk}/done", "#connected"),
        (f"/crm/configs/{config.pk}/mappings/?entity=contact&automap&preview", "#preview"),
        (f"/crm/configs/{config.pk}/mappings/?entity=account&add", "#add-mapping"),
    ]:
        page.goto(f"{hub.url}{path}")
        page.wait_for_selector(ready)
        assert_fits(page)


def test_the_sign_in_page_fits_a_phone(phone, hub):
    page = phone()
    page.goto(f"{hub.url}/accounts/login/")
    page.wait_for_selector("#id_login")
    assert_fits(page, header=["Integration Hub", "Sign in"])


@pytest.mark.parametrize(
    ("provider", "domain"), [("smartsheet", ""), ("salesforce", "test"), ("hubspot", "")]
)
def test_each_consent_page_fits_a_phone_and_has_a_favicon(
    phone, hub, two_workspaces, provider, domain
):
    page = phone(two_workspaces["a_admin"])
    page.goto(f"{hub.url}/integrations/connections/")
    started = page.evaluate(
        """async ([url, workspace, domain]) => {
          const csrf = document.cookie.split('; ').find((c) => c.startsWith('csrftoken=')).split('=')[1];
          const answer = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf},
                                           body: JSON.stringify({workspace, domain})});
          return answer.json();
        }""",
        [f"/integrations/{provider}/auth/start", two_workspaces["a"].pk, domain],
    )
    page.goto(started["authorize_url"])
    page.wait_for_selector("#approve")
    assert_fits(page, header=None)
    icon = page.evaluate("document.querySelector('link[rel~=icon]')?.href")
    assert icon, "the consent page names no icon: the browser asks for /favicon.ico and gets 404"
    assert page.evaluate("href => fetch(href).then((answer) => answer.status)", icon) == 200


def test_the_hub_has_a_favicon(phone, hub):
    page = phone()
    page.goto(f"{hub.url}/accounts/login/")
    icon = page.evaluate("document.querySelector('link[rel~=icon]')?.href")
    assert icon and page.request.get(icon).status == 200
    answer = page.request.get(f"{hub.url}/favicon.ico")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("image/")

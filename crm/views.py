"""Server-rendered pages of CRM sync: the settings page (a card per CRM config of a workspace,
with its actions) and the sync history with a page per run. Reads go through the selectors,
writes through the services (the role checks live there); a refused action comes back as a
message on the page it was pressed on."""

from datetime import datetime, time

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Max
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from crm import selectors, services
from crm.models import CrmConfig, Entity, SyncConflict, SyncLog
from integrations.accounts import selectors as account_selectors
from integrations.connections.models import Connection
from integrations.connections.oauth.views import hub_origin, opens_oauth_popups
from integrations.errors import ApplicationError, NotFound, PermissionDenied
from integrations.views import button, page_workspace

HISTORY_PAGE_SIZE = 25
# The history's status filter, in the seed's words ("Completed" is a run that succeeded).
STATUS_FILTER = [
    ("succeeded", "Completed"),
    ("partial", "Partial"),
    ("failed", "Failed"),
    ("running", "Running"),
    ("queued", "Queued"),
]


def _config(request, config_id: int) -> CrmConfig:
    try:
        return selectors.config_for(user=request.user, config_id=config_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _settings_url(workspace_id: int) -> str:
    return f"{reverse('crm-settings')}?workspace={workspace_id}"


def _back(config: CrmConfig):
    return redirect(_settings_url(config.workspace_id))


def _act(request, config: CrmConfig, action, done: str):
    """Run a service for a card's button and say how it went; a member pressing it (the page
    only shows it disabled) gets a 403, as the API would answer."""
    with button(request) as pressed:
        action()
    if not pressed.failed:
        messages.success(request, done)
    return _back(config)


def _usage(config: CrmConfig) -> dict | None:
    """The API quota the provider last reported: used, limit and the share used (percent)."""
    used, limit = (config.api_usage or {}).get("used"), (config.api_usage or {}).get("limit")
    if used is None or not limit:
        return None
    return {"used": used, "limit": limit, "percent": min(100, round(100 * used / limit))}


def _card(config: CrmConfig) -> dict:
    stats = selectors.config_stats(config=config)
    connection = config.connection
    working = connection is not None and connection.status == Connection.Status.CONNECTED
    return {
        "config": config,
        "stats": stats,
        "usage": _usage(config),
        "connected_as": (connection.external_email or connection.label) if working else "",
        "active": list(selectors.log_list(config=config).filter(status__in=SyncLog.ACTIVE)),
        "entities": [Entity(entity).label.lower() for entity in services.ordered_entities(config)],
    }


@login_required
@ensure_csrf_cookie
@opens_oauth_popups
def settings_page(request):
    """A card per CRM config of the workspace, and the CRMs it may still connect."""
    workspace = page_workspace(request)
    configs = selectors.config_list(user=request.user, workspace_id=workspace.pk)
    cards = [_card(config) for config in configs]
    configured = {card["config"].provider for card in cards}
    # Whether the workspace's connection to each CRM works: Connect then links it at once.
    ready = {}
    for provider in CrmConfig.Provider.values:
        connection = selectors.connection_of(
            user=request.user, workspace=workspace, provider=provider
        )
        ready[provider] = (
            connection is not None and connection.status == Connection.Status.CONNECTED
        )
    return render(
        request,
        "crm/settings.html",
        {
            "workspace": workspace,
            "workspaces": account_selectors.workspace_list(user=request.user),
            "is_admin": account_selectors.is_workspace_admin(
                user=request.user, workspace_id=workspace.pk
            ),
            "cards": cards,
            "salesforce_configured": CrmConfig.Provider.SALESFORCE in configured,
            "hubspot_configured": CrmConfig.Provider.HUBSPOT in configured,
            "salesforce_ready": ready[CrmConfig.Provider.SALESFORCE],
            "hubspot_ready": ready[CrmConfig.Provider.HUBSPOT],
            "page": {
                "workspace": workspace.pk,
                "allowedOrigin": hub_origin(),
                "pollSeconds": settings.OAUTH_STATUS_POLL_SECONDS,
            },
        },
    )


@login_required
@require_POST
def config_connect(request, provider: str):
    """Connect the workspace's config to its CRM: linked at once when the workspace's
    connection works (the page's popup made it a moment ago); otherwise the consent page of
    the platform's OAuth flow, in this window (the page without scripts)."""
    workspace = page_workspace(request)
    # From the connect wizard: on to its settings step, and back to its first on a refusal.
    wizard = request.POST.get("next") == "setup"
    try:
        config, consent_url = services.config_connect(
            workspace=workspace,
            provider=provider,
            actor=request.user,
            domain=request.POST.get("domain", ""),
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
        back = reverse("crm-wizard") if wizard else reverse("crm-settings")
        return redirect(f"{back}?workspace={workspace.pk}")
    if consent_url:
        return redirect(consent_url)
    who = config.connection.external_email or config.connection.label
    messages.success(request, f"{config.get_provider_display()} is connected as {who}.")
    if wizard:
        return redirect("crm-wizard-setup", config_id=config.pk)
    return redirect(_settings_url(workspace.pk))


@login_required
@require_POST
def config_sync(request, config_id: int):
    """Sync now: a run of each of the config's entities, accounts first."""
    config = _config(request, config_id)

    def sync_now():
        services.sync_trigger(config=config, actor=request.user, trigger=SyncLog.Trigger.BUTTON)

    return _act(request, config, sync_now, f"{config.get_provider_display()} sync started.")


@login_required
@require_POST
def config_pause(request, config_id: int):
    config = _config(request, config_id)
    return _act(
        request,
        config,
        lambda: services.config_set_paused(config=config, actor=request.user, paused=True),
        f"{config.get_provider_display()} sync paused: no run starts until you resume it.",
    )


@login_required
@require_POST
def config_resume(request, config_id: int):
    config = _config(request, config_id)
    return _act(
        request,
        config,
        lambda: services.config_set_paused(config=config, actor=request.user, paused=False),
        f"{config.get_provider_display()} sync resumed.",
    )


@login_required
@require_POST
def config_disconnect(request, config_id: int):
    config = _config(request, config_id)
    return _act(
        request,
        config,
        lambda: services.config_disconnect(config=config, actor=request.user),
        f"{config.get_provider_display()} is disconnected; its links and history are kept "
        "for when you connect again.",
    )


class ConfigForm(forms.Form):
    """The sync's settings (seed screen 6): what moves, which way, how often, who wins."""

    sync_direction = forms.ChoiceField(
        label="Direction", choices=CrmConfig.Direction.choices, widget=forms.RadioSelect
    )
    sync_frequency = forms.ChoiceField(
        label="How often", choices=CrmConfig.Frequency.choices, widget=forms.RadioSelect
    )
    daily_at = forms.TimeField(
        label="Time of a daily sync (UTC)",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    entities = forms.MultipleChoiceField(
        label="What to sync", choices=Entity.choices, widget=forms.CheckboxSelectMultiple
    )
    conflict_resolution = forms.ChoiceField(
        label="When both sides changed a field", choices=CrmConfig.Resolution.choices
    )
    create_if_missing = forms.BooleanField(
        label="Create new records if not found on the other side", required=False
    )
    propagate_deletes = forms.BooleanField(
        label="Delete records deleted on the other side (after a complete read)", required=False
    )


@login_required
def config_settings(request, config_id: int):
    """Configure: the config's settings form; saved through the service, which checks the
    rules between them (a daily sync needs its time). Members see it read-only."""
    config = _config(request, config_id)
    is_admin = account_selectors.is_workspace_admin(
        user=request.user, workspace_id=config.workspace_id
    )
    initial = {name: getattr(config, name) for name in ConfigForm.base_fields}
    form = ConfigForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        if not is_admin:
            raise DjangoPermissionDenied("Only a workspace admin can change the CRM sync.")
        if form.is_valid():
            try:
                services.config_update(config=config, actor=request.user, **form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"{config.get_provider_display()} sync settings saved.")
                return _back(config)
        status = 400
    return render(
        request,
        "crm/config.html",
        {"config": config, "form": form, "is_admin": is_admin},
        status=status,
    )


def _day(text: str, *, end: bool = False) -> datetime | None:
    """A yyyy-mm-dd of the date filter as the start (or end) of that day; None if not a date."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        return None
    return timezone.make_aware(datetime.combine(day, time.max if end else time.min))


@login_required
def history(request):
    """The workspace's runs, newest first, filtered by date range, status and entity."""
    workspace = page_workspace(request)
    logs = selectors.log_list(user=request.user).filter(workspace=workspace)
    chosen = {
        key: request.GET.get(key, "").strip() for key in ("since", "until", "status", "entity")
    }
    problems = []
    if chosen["since"]:
        since = _day(chosen["since"])
        if since is None:
            problems.append("From: enter a date as YYYY-MM-DD.")
        else:
            logs = logs.filter(created_at__gte=since)
    if chosen["until"]:
        until = _day(chosen["until"], end=True)
        if until is None:
            problems.append("To: enter a date as YYYY-MM-DD.")
        else:
            logs = logs.filter(created_at__lte=until)
    if chosen["status"] in dict(STATUS_FILTER):
        logs = logs.filter(status=chosen["status"])
    if chosen["entity"] in Entity.values:
        logs = logs.filter(entity=chosen["entity"])
    page = Paginator(logs, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    for log in page.object_list:
        log.duration_text = _duration(log.duration)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "crm/history.html",
        {
            "workspace": workspace,
            "workspaces": account_selectors.workspace_list(user=request.user),
            "page": page,
            "chosen": chosen,
            "problems": problems,
            "query": query.urlencode(),
            "statuses": STATUS_FILTER,
            "entities": Entity.choices,
            "has_active": any(log.is_active for log in page.object_list),
        },
        status=400 if problems else 200,
    )


def _log(request, log_id: int) -> SyncLog:
    try:
        return selectors.log_for(user=request.user, log_id=log_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _timeline(log: SyncLog) -> list[tuple[str, datetime | None, str]]:
    """The run's stages as its row knows them: queued, started, the stage it is at (while it
    runs) and its end."""
    steps = [("Queued", log.created_at, f"by {log.get_trigger_display().lower()}")]
    if log.started_at:
        steps.append(("Started", log.started_at, ""))
    if log.is_active and log.stage:
        count = f" {log.stage_done}/{log.stage_total}" if log.stage_total else ""
        steps.append((f"{log.stage}{count}", None, "now"))
    if log.finished_at:
        steps.append((log.get_status_display(), log.finished_at, log.message))
    return steps


def _duration(seconds: float | None) -> str:
    """ "2m 34s", "0.4s", or "—" before the run starts."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{round(seconds)}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes // 60}h {minutes % 60}m" if minutes >= 60 else f"{minutes}m {rest}s"


def _errors(log: SyncLog) -> list[dict]:
    """The run's per-record errors, each with the record it names: a hub record by its id,
    a CRM record by its id and a link to it in the CRM (the connection's instance)."""
    connection = log.config.connection
    instance = connection.instance_url.rstrip("/") if connection and connection.instance_url else ""
    shown = []
    for error in log.errors:
        entity, _, ident = str(error.get("item", "")).partition(" ")
        on_hub = ident.isdigit()
        shown.append(
            {
                "entity": entity,
                "record": ident or error.get("item", ""),
                "side": "hub" if on_hub else "CRM",
                "url": f"{instance}/{ident}" if instance and ident and not on_hub else "",
                "message": error.get("message", ""),
            }
        )
    return shown


@login_required
@ensure_csrf_cookie
def log_detail(request, log_id: int):
    log = _log(request, log_id)
    return render(
        request,
        "crm/log.html",
        {
            "log": log,
            "errors": _errors(log),
            "duration_text": _duration(log.duration),
            "conflicts": list(selectors.log_conflicts(log=log)),
            "timeline": _timeline(log),
            "is_admin": account_selectors.is_workspace_admin(
                user=request.user, workspace_id=log.workspace_id
            ),
            "may_retry": log.failed > 0 and not log.is_active,
            "changes": selectors.log_changes(log=log),
            "change_count": log.changes.count(),
            "undone_by": log.undone_by.exclude(status=SyncLog.Status.FAILED).order_by("pk").first(),
        },
    )


@login_required
@require_POST
def log_retry(request, log_id: int):
    """Retry failed records: a new run of the log's config and entity, which reads the
    records that failed again."""
    log = _log(request, log_id)
    with button(request) as pressed:
        run = services.retry_failed(log=log, actor=request.user)
    if pressed.failed:
        return redirect("crm-log", log_id=log.pk)
    messages.success(request, f"Retrying the failed {log.entity}s: run {run.pk} started.")
    return redirect("crm-log", log_id=run.pk)


@login_required
@require_POST
def log_undo(request, log_id: int):
    """Undo this run: a new run puts back what this one changed (the page asked first)."""
    log = _log(request, log_id)
    with button(request) as pressed:
        run = services.sync_undo(log=log, actor=request.user)
    if pressed.failed:
        return redirect("crm-log", log_id=log.pk)
    messages.success(request, f"Undoing run {log.pk}: run {run.pk} started.")
    return redirect("crm-log", log_id=run.pk)


# --- Conflicts ----------------------------------------------------------------------------------

CONFLICTS_PAGE_SIZE = 25
# The list's status filter: the pending ones unless asked otherwise ("all" shows every one).
CONFLICT_STATUS_FILTER = [*SyncConflict.Status.choices, ("all", "All")]
# A field's choice on the split view, and the side each takes its value from.
KEEP_APP, KEEP_CRM, MERGED = "app", "crm", "merged"
# "Always use app / CRM": the field policy each button sets, and the side a policy keeps.
ALWAYS = {KEEP_APP: CrmConfig.Resolution.APP_WINS, KEEP_CRM: CrmConfig.Resolution.CRM_WINS}
ALWAYS_SIDE = {policy: side for side, policy in ALWAYS.items()}


def _conflict(request, conflict_id: int) -> SyncConflict:
    try:
        return selectors.conflict_for(user=request.user, conflict_id=conflict_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _record_label(conflict: SyncConflict, record) -> str:
    """ "Acme Corp", else the CRM record's id, else the hub's (a record deleted since)."""
    return str(record).strip() if record else conflict.remote_id or f"#{conflict.local_id}"


@login_required
def conflict_list(request):
    """The workspace's conflicts, newest first, filtered by status (pending unless asked) and
    entity."""
    workspace = page_workspace(request)
    chosen = {
        "status": request.GET.get("status", "").strip() or SyncConflict.Status.PENDING,
        "entity": request.GET.get("entity", "").strip(),
    }
    if chosen["status"] not in dict(CONFLICT_STATUS_FILTER):
        chosen["status"] = SyncConflict.Status.PENDING
    conflicts = selectors.conflict_list(
        user=request.user,
        status="" if chosen["status"] == "all" else chosen["status"],
        entity=chosen["entity"] if chosen["entity"] in Entity.values else "",
    ).filter(workspace=workspace)
    stamp = _conflicts_stamp(conflicts)
    if request.GET.get("watch"):  # the page's script: has what it lists changed?
        return JsonResponse({"stamp": stamp})
    page = Paginator(conflicts, CONFLICTS_PAGE_SIZE).get_page(request.GET.get("page"))
    records = selectors.conflict_records(conflicts=page.object_list)
    for conflict in page.object_list:
        conflict.label = _record_label(conflict, records.get((conflict.entity, conflict.local_id)))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "crm/conflicts.html",
        {
            "workspace": workspace,
            "workspaces": account_selectors.workspace_list(user=request.user),
            "page": page,
            "chosen": chosen,
            "query": query.urlencode(),
            "statuses": CONFLICT_STATUS_FILTER,
            "entities": Entity.choices,
            "stamp": stamp,
        },
    )


def _conflicts_stamp(conflicts) -> str:
    """What a listing holds, in one line: it changes when a run finds a conflict or settles one,
    and when someone resolves or ignores one."""
    found = conflicts.aggregate(
        count=Count("pk"), newest=Max("pk"), detected=Max("detected_at"), settled=Max("resolved_at")
    )
    return ":".join(str(found[key]) for key in ("count", "newest", "detected", "settled"))


def _rules(conflict: SyncConflict) -> dict[str, str]:
    """The conflict's fields with an "always" rule: field -> the side it keeps (app / crm)."""
    rules = (conflict.config.field_policies or {}).get(conflict.entity, {})
    return {
        name: ALWAYS_SIDE[rules[name]]
        for name in conflict.conflicting_fields
        if rules.get(name) in ALWAYS_SIDE
    }


def _conflict_rows(conflict: SyncConflict, form: dict) -> list[dict]:
    """A row per conflicting field: the base, both sides, the choice the form holds (the
    merged value starts as the hub's; a field with an "always" rule starts on its side), its
    rule and, once resolved, the value both sides keep."""
    rules = _rules(conflict)
    rows = []
    for name in conflict.conflicting_fields:
        app, crm = conflict.app_data.get(name), conflict.crm_data.get(name)
        merged = form.get(f"merged-{name}")
        kept = {
            SyncConflict.Strategy.USE_APP: app,
            SyncConflict.Strategy.USE_CRM: crm,
            SyncConflict.Strategy.MANUAL: conflict.merged_data.get(name),
        }
        rows.append(
            {
                "name": name,
                "base": conflict.base_data.get(name),
                "app": app,
                "crm": crm,
                "choice": form.get(f"choice-{name}", "") if form else rules.get(name, ""),
                "rule": rules.get(name, ""),
                "merged": ("" if app is None else app) if merged is None else merged,
                "settled": conflict.status == SyncConflict.Status.RESOLVED,
                "kept": kept.get(conflict.strategy),
            }
        )
    return rows


def _choices(conflict: SyncConflict, form) -> tuple[str, dict, list[str]]:
    """The resolve service's arguments from the split view's form: one side's strategy when
    every field keeps that side, otherwise mergedData with each field's chosen value (an empty
    merged value clears the field). Also the fields left without a choice."""
    picked, missing = {}, []
    for name in conflict.conflicting_fields:
        choice = form.get(f"choice-{name}", "")
        if choice == KEEP_APP:
            picked[name] = (choice, conflict.app_data.get(name))
        elif choice == KEEP_CRM:
            picked[name] = (choice, conflict.crm_data.get(name))
        elif choice == MERGED:
            text = form.get(f"merged-{name}", "").strip()
            picked[name] = (choice, text or None)
        else:
            missing.append(name)
    sides = {choice for choice, _ in picked.values()}
    if sides == {KEEP_APP}:
        return SyncConflict.Strategy.USE_APP, {}, missing
    if sides == {KEEP_CRM}:
        return SyncConflict.Strategy.USE_CRM, {}, missing
    return SyncConflict.Strategy.USE_APP, {n: v for n, (_, v) in picked.items()}, missing


@login_required
@ensure_csrf_cookie
def conflict_detail(request, conflict_id: int):
    """The split view: per conflicting field the base, the hub's value and the CRM's, and the
    choice Keep app / Keep CRM / a merged value; Resolve sends the choices to the resolve
    service. Members see it read-only (a POST of theirs is a 403)."""
    conflict = _conflict(request, conflict_id)
    is_admin = account_selectors.is_workspace_admin(
        user=request.user, workspace_id=conflict.workspace_id
    )
    form, problems, status = {}, [], 200
    provider = conflict.config.get_provider_display()
    if request.method == "POST":
        if not is_admin:
            raise DjangoPermissionDenied("Only a workspace admin can resolve CRM conflicts.")
        form = request.POST
        always = _always(conflict, form)
        if always:  # the field's choice is the button's side
            form = form.copy()
            form[f"choice-{always[0]}"] = always[1]
        strategy, merged, missing = _choices(conflict, form)
        if always and always[0] not in conflict.conflicting_fields:
            problems.append(f"{always[0]} is not one of this conflict's fields.")
            status = 400
        elif missing and not always:
            problems.append(f"Choose a value for {', '.join(missing)}.")
            status = 400
        else:
            try:
                if always and missing:  # the rule now; the conflict once every field is chosen
                    services.config_field_policy_set(
                        config=conflict.config,
                        entity=conflict.entity,
                        crm_field=always[0],
                        policy=ALWAYS[always[1]],
                        actor=request.user,
                    )
                elif always:
                    services.conflict_resolve_always(
                        conflict=conflict,
                        actor=request.user,
                        crm_field=always[0],
                        policy=ALWAYS[always[1]],
                        strategy=strategy,
                        merged_data=merged,
                        trigger=SyncLog.Trigger.BUTTON,
                    )
                else:
                    services.conflict_resolve(
                        conflict=conflict,
                        actor=request.user,
                        strategy=strategy,
                        merged_data=merged,
                        trigger=SyncLog.Trigger.BUTTON,
                    )
            except PermissionDenied as exc:
                raise DjangoPermissionDenied(exc.message) from exc
            except ApplicationError as exc:
                problems.append(exc.message)
                status = exc.status_code
            else:
                rule = ""
                if always:
                    whose = "the app's" if always[1] == KEEP_APP else f"{provider}'s"
                    rule = f"From now on {always[0]} always takes {whose} value in a conflict."
                if always and missing:
                    messages.success(
                        request,
                        f"{rule} Choose a value for {', '.join(missing)} to resolve this one.",
                    )
                    return redirect("crm-conflict", conflict_id=conflict.pk)
                messages.success(
                    request,
                    "Conflict resolved: the hub record has the chosen values, and the next "
                    f"{conflict.entity} sync writes them to {provider}. {rule}".strip(),
                )
                return redirect("crm-conflict", conflict_id=conflict.pk)
        conflict.refresh_from_db()
    record = selectors.conflict_records(conflicts=[conflict]).get(
        (conflict.entity, conflict.local_id)
    )
    link = selectors.conflict_link(conflict=conflict)
    others = sorted(
        (name, value)
        for name, value in ((link.synced_values or {}) if link else {}).items()
        if name not in conflict.conflicting_fields
    )
    return render(
        request,
        "crm/conflict.html",
        {
            "conflict": conflict,
            "label": _record_label(conflict, record),
            "record": record,
            "rows": _conflict_rows(conflict, form),
            "others": others,
            "problems": problems,
            "is_admin": is_admin,
            "pending": conflict.status == SyncConflict.Status.PENDING,
            "provider": provider,
            "rules": sorted(_rules(conflict).items()),
        },
        status=status,
    )


def _always(conflict: SyncConflict, form) -> tuple[str, str] | None:
    """The "Always use app / CRM" button pressed, if one was: (field, side)."""
    for key, value in form.items():
        if key.startswith("always-") and value in ALWAYS:
            return key.removeprefix("always-"), value
    return None


@login_required
@require_POST
def conflict_rule_clear(request, conflict_id: int):
    """Clear a field's "always" rule from a conflict's page: conflicts on it are settled by
    the config's strategy again."""
    conflict = _conflict(request, conflict_id)
    name = request.POST.get("field", "")
    with button(request) as pressed:
        services.config_field_policy_set(
            config=conflict.config,
            entity=conflict.entity,
            crm_field=name,
            policy=None,
            actor=request.user,
        )
    if not pressed.failed:
        messages.success(
            request,
            f"The rule for {name} is cleared: a conflict on it is settled by the sync's "
            f"strategy ({conflict.config.get_conflict_resolution_display().lower()}) again.",
        )
    return redirect("crm-conflict", conflict_id=conflict.pk)


@login_required
@require_POST
def conflict_ignore(request, conflict_id: int):
    """Ignore: nothing written; a field still differing comes back at the next sync."""
    conflict = _conflict(request, conflict_id)
    with button(request) as pressed:
        services.conflict_ignore(conflict=conflict, actor=request.user)
    if not pressed.failed:
        messages.success(
            request,
            "Conflict ignored: both sides keep their values; if the field still differs, "
            "the next sync holds it again.",
        )
    return redirect("crm-conflict", conflict_id=conflict.pk)

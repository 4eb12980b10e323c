"""The field-mapping page of a CRM config (seed screen 3): a tab per entity with its mapped
fields (CRM field / hub field / direction / transform, edit and remove), an add-mapping dialog
with searchable lists of the CRM's fields and the hub's and the transform picker with each
transform's parameters, Auto-map (pairs proposed by name and type, each with a confidence, that
a person ticks and accepts) and a preview of the mapping on a few recent CRM records.

Every change goes through the mapping services (checked against the CRM's describe, the hub's
model and the transform registry; audited); a refused one is said in the dialog it came from.
The dialogs are server-rendered (?add, ?edit=<id>), so the page works without scripts;
crm/static/crm/mappings.js makes them modal, filters the lists and shows the chosen
transform's parameters."""

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from crm import selectors, services
from crm.models import CrmConfig, Entity
from crm.views import _config
from integrations.accounts import selectors as account_selectors
from integrations.connections import http
from integrations.connections.models import Connection
from integrations.errors import ApplicationError, NotFound, PermissionDenied
from integrations.mapping import transforms
from integrations.mapping.models import FieldMapping

# The seed's words for a field's direction.
DIRECTIONS = [
    (FieldMapping.Direction.BOTH, "Both ways"),
    (FieldMapping.Direction.PUSH, "Push (hub → CRM)"),
    (FieldMapping.Direction.PULL, "Pull (CRM → hub)"),
    (FieldMapping.Direction.NONE, "Off"),
]
# A service's error names the request field at fault (the API's names): the dialog's field.
FORM_FIELDS = {
    "crmField": "crm_field",
    "appField": "app_field",
    "syncDirection": "direction",
    "transformFunction": "transform",
}


class MappingForm(forms.Form):
    crm_field = forms.ChoiceField(label="CRM field", widget=forms.Select(attrs={"size": 7}))
    app_field = forms.ChoiceField(label="Hub field", widget=forms.Select(attrs={"size": 7}))
    direction = forms.ChoiceField(
        label="Direction", choices=DIRECTIONS, widget=forms.RadioSelect, initial="both"
    )
    transform = forms.ChoiceField(label="Transform", initial="rename")

    def __init__(self, *args, crm_choices, app_choices, editing: bool = False, **kwargs):
        # The add and edit dialogs can share the page: their inputs' ids must differ.
        kwargs.setdefault("auto_id", "edit-%s" if editing else "add-%s")
        super().__init__(*args, **kwargs)
        self.fields["app_field"].choices = app_choices
        self.fields["transform"].choices = [
            (name, name) for name, _ in sorted(transforms.REGISTRY.items())
        ]
        if editing:  # a mapping's CRM field stays: map another one with a new mapping
            del self.fields["crm_field"]
        else:
            self.fields["crm_field"].choices = crm_choices


# --- A transform's parameters as form inputs (from its JSON Schema) ------------------------------


def _input_kind(spec: dict) -> str:
    kind = spec.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    if "enum" in spec:
        return "choice"
    if kinds == {"boolean"}:
        return "yesno"
    if kinds <= {"integer", "number"} and kind:
        return "number"
    if kinds == {"array"}:
        return "lines"
    if kinds == {"object"}:
        return "json"
    if kind is None:
        return "value"  # any JSON value: text, or a number / true / false / null written so
    return "text"


def _shown(value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "json":
        return json.dumps(value, ensure_ascii=False)
    if kind == "lines":
        return "\n".join(str(item) for item in value)
    if kind == "yesno":
        return "yes" if value else "no"
    if kind == "value" and not isinstance(value, str):
        return json.dumps(value)
    return str(value)


def transform_picker(chosen: str = "", params: dict | None = None, post=None) -> list[dict]:
    """Every registered transform with its description and its parameters as inputs, filled
    from the mapping's params (or the form as posted) for the chosen one."""
    picker = []
    for name, transform in sorted(transforms.REGISTRY.items()):
        schema = transform.schema
        inputs = []
        for key, spec in schema["properties"].items():
            kind = _input_kind(spec)
            field_name = f"param-{name}-{key}"
            if post is not None:
                value = post.get(field_name, "")
            else:
                value = _shown((params or {}).get(key), kind) if name == chosen else ""
            inputs.append(
                {
                    "key": key,
                    "name": field_name,
                    "kind": kind,
                    "choices": spec.get("enum", []),
                    "required": key in schema.get("required", []),
                    "help": spec.get("description", ""),
                    "value": value,
                    "words": transforms.kind_words(spec["type"]) if "type" in spec else "",
                }
            )
        picker.append(
            {
                "name": name,
                "description": transform.description,
                "inputs": inputs,
                "pure": transform.pure,
            }
        )
    return picker


def params_from(post, transform: str) -> dict:
    """The chosen transform's parameters from the form; an empty input is left out (the
    transform's default). Text that is not what its kind needs is an ApplicationError naming
    the parameter; the registry checks the rest."""
    spec_of = transforms.get(transform).schema["properties"]
    params = {}
    for key, spec in spec_of.items():
        raw = post.get(f"param-{transform}-{key}", "")
        kind = _input_kind(spec)
        if not raw.strip():
            continue
        if kind == "yesno":
            params[key] = raw == "yes"
        elif kind == "number":
            try:
                number = float(raw)
            except ValueError:
                raise _param_error(transform, key, "must be a number") from None
            params[key] = int(number) if number.is_integer() else number
        elif kind == "lines":
            params[key] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif kind == "json":
            try:
                params[key] = json.loads(raw)
            except ValueError:
                raise _param_error(
                    transform, key, 'must be written as JSON, e.g. {"Lead": "lead"}'
                ) from None
        elif kind == "value":
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
            params[key] = raw if isinstance(value, str | list | dict) else value
        else:
            params[key] = raw
    return params


def _param_error(transform: str, key: str, words: str) -> ApplicationError:
    message = f"{transform}: the parameter {key!r} {words}."
    return ApplicationError(message, code="invalid", details={"transformParams": [message]})


# --- The page -----------------------------------------------------------------------------------


def _entity(request, config: CrmConfig) -> str:
    wanted = request.POST.get("entity") or request.GET.get("entity") or ""
    if wanted in Entity.values:
        return wanted
    return (services.ordered_entities(config) or [Entity.ACCOUNT])[0]


def _page_url(config: CrmConfig, entity: str, extra: str = "") -> str:
    return f"{reverse('crm-mappings', args=[config.pk])}?entity={entity}{extra}"


def _describe(config: CrmConfig, entity: str) -> tuple[list[dict], str]:
    """The CRM's fields of the entity, or why they cannot be had, in words."""
    provider = config.get_provider_display()
    connection = config.connection
    if connection is None or connection.status == Connection.Status.REVOKED:
        return [], (
            f"{provider} is not connected: connect it again (CRM settings) to see its fields "
            "and change the mappings."
        )
    try:
        return selectors.crm_fields(connection=connection, entity=entity), ""
    except (ApplicationError, http.ProviderError) as exc:
        return [], f"{provider} could not be asked for its fields: {exc.message}"


def _crm_choices(described: list[dict], mapped: set[str]) -> list[tuple[str, str]]:
    return [
        (
            f["name"],
            f"{f['label']} ({f['name']}, {f['type']}{', required' if f['required'] else ''})",
        )
        for f in described
        # The record's id is the link's business, never a mapped value.
        if f["name"] not in mapped and f["type"] != "id"
    ]


def _app_choices(entity: str, current: str = "") -> list[tuple[str, str]]:
    fields = selectors.hub_fields(entity)
    choices = [(f["name"], f["name"] + (" (required)" if f["required"] else "")) for f in fields]
    if current and current not in {f["name"] for f in fields}:
        choices.append((current, current))  # several hub fields joined (push only)
    return choices


def _errors_into(form: MappingForm, exc: ApplicationError) -> None:
    for api_name, form_name in FORM_FIELDS.items():
        if api_name in exc.details and form_name in form.fields:
            form.add_error(form_name, exc.message)
            return
    form.add_error(None, exc.message)


def _picker(request, form: MappingForm | None, params: dict | None = None) -> dict | None:
    """A dialog's transform picker: the chosen transform and every transform's inputs, filled
    from the posted form when it is the one posted, else from the mapping's params."""
    if form is None:
        return None
    if form.is_bound:
        chosen = form.data.get("transform") or "rename"
        return {"chosen": chosen, "inputs": transform_picker(chosen, post=request.POST)}
    chosen = form.initial.get("transform", "rename")
    return {"chosen": chosen, "inputs": transform_picker(chosen, params)}


def _render(
    request,
    config: CrmConfig,
    entity: str,
    *,
    add_form: MappingForm | None = None,
    edit_field: FieldMapping | None = None,
    edit_form: MappingForm | None = None,
    automap_problem: str = "",
    status: int = 200,
):
    is_admin = account_selectors.is_workspace_admin(
        user=request.user, workspace_id=config.workspace_id
    )
    mapping_set = selectors.mapping_sets(config=config)[entity]
    rows = list(mapping_set.fields.all())
    described, crm_problem = _describe(config, entity)
    labels = {f["name"]: f["label"] for f in described}
    mapped = {row.target_field for row in rows}
    crm_choices = _crm_choices(described, mapped)
    add_open = add_form is not None or "add" in request.GET
    if is_admin and add_form is None and not crm_problem:
        add_form = MappingForm(crm_choices=crm_choices, app_choices=_app_choices(entity))
    if is_admin and edit_form is None and request.GET.get("edit"):
        try:
            found_entity, edit_field = selectors.mapping_for(
                config=config, mapping_id=request.GET["edit"]
            )
        except NotFound:
            found_entity = None
        if found_entity == entity:
            edit_form = MappingForm(
                initial={
                    "app_field": edit_field.source_field,
                    "direction": edit_field.direction,
                    "transform": edit_field.transform,
                },
                crm_choices=[],
                app_choices=_app_choices(entity, edit_field.source_field),
                editing=True,
            )
        else:
            edit_field = None
    proposals, preview, problem = None, None, ""
    if "automap" in request.GET or automap_problem:
        if crm_problem:
            problem = crm_problem
        else:
            try:
                proposals = selectors.mapping_proposals(config=config, entity=entity)
            except (ApplicationError, http.ProviderError) as exc:
                problem = f"Auto-map could not ask {config.get_provider_display()}: {exc.message}"
    if "preview" in request.GET:
        if crm_problem:
            problem = crm_problem
        else:
            try:
                preview = selectors.mapping_preview(config=config, entity=entity)
            except (ApplicationError, http.ProviderError) as exc:
                problem = (
                    f"The preview could not read {config.get_provider_display()}'s records: "
                    f"{exc.message}"
                )
    add_picker = _picker(request, add_form)
    edit_picker = _picker(request, edit_form, edit_field.params if edit_field else None)
    return render(
        request,
        "crm/mappings.html",
        {
            "config": config,
            "workspace": config.workspace,
            "entity": entity,
            "entity_label": Entity(entity).label,
            "tabs": [
                (value, label, value in (config.entities or [])) for value, label in Entity.choices
            ],
            "rows": [
                {
                    "field": row,
                    "crm_label": labels.get(row.target_field, ""),
                    "direction": dict(DIRECTIONS).get(row.direction, row.direction),
                    "params": json.dumps(row.params, ensure_ascii=False) if row.params else "",
                    "required": row.target_field in (mapping_set.required_fields or []),
                }
                for row in rows
            ],
            "is_admin": is_admin,
            "crm_problem": crm_problem,
            "crm_fields": described,
            "add_form": add_form,
            "add_open": add_open,
            "edit_form": edit_form,
            "edit_field": edit_field,
            "add_picker": add_picker,
            "edit_picker": edit_picker,
            "proposals": proposals,
            "automap_problem": automap_problem,
            "preview": _preview_rows(preview) if preview is not None else None,
            "problem": problem,
            "provider": config.get_provider_display(),
        },
        status=status,
    )


def _preview_rows(preview: dict) -> dict:
    """The preview as the page shows it: per sample a row per hub field with its value (or the
    transform's error), the CRM field it comes from and that field's value, and whether it is
    a required field left empty (unmapped, or mapped and empty in this record)."""
    unmapped = set(preview["unmapped_hub"])
    samples = []
    for sample in preview["samples"]:
        rows = []
        for field in preview["fields"]:
            name = field["name"]
            source = preview["sources"].get(name, "")
            rows.append(
                {
                    "name": name,
                    "required": field["required"],
                    "mapped": name in sample["app"] or name in sample["errors"],
                    "value": sample["app"].get(name),
                    "error": sample["errors"].get(name, ""),
                    "source": source,
                    "crm_value": sample["crm"].get(source) if source else None,
                    "missing": name in unmapped or name in sample["empty_required"],
                }
            )
        samples.append({"id": sample["id"], "rows": rows})
    return {
        "samples": samples,
        "unmapped_hub": preview["unmapped_hub"],
        "unmapped_crm": preview["unmapped_crm"],
    }


@login_required
@ensure_csrf_cookie
def mappings(request, config_id: int):
    """The page: ?entity= picks the tab; ?add / ?edit=<id> open a dialog; ?automap proposes
    pairs; ?preview maps a few recent CRM records."""
    config = _config(request, config_id)
    return _render(request, config, _entity(request, config))


def _service(call):
    """Run a mapping service; a member's refusal is the 403 the API answers too."""
    try:
        return call()
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from exc


def _require_admin(request, config: CrmConfig) -> None:
    if not account_selectors.is_workspace_admin(
        user=request.user, workspace_id=config.workspace_id
    ):
        raise DjangoPermissionDenied("Only a workspace admin can change the CRM field mappings.")


@login_required
@require_POST
def mapping_add(request, config_id: int):
    config = _config(request, config_id)
    _require_admin(request, config)
    entity = _entity(request, config)
    mapping_set = selectors.mapping_sets(config=config)[entity]
    described, _ = _describe(config, entity)
    mapped = set(mapping_set.fields.values_list("target_field", flat=True))
    form = MappingForm(
        request.POST,
        crm_choices=_crm_choices(described, mapped),
        app_choices=_app_choices(entity),
    )
    saved = _saved(
        request,
        form,
        lambda **fields: services.mapping_add(
            config=config, entity=entity, crm_field=form.cleaned_data["crm_field"], **fields
        ),
    )
    if saved:
        data = form.cleaned_data
        messages.success(request, f"{data['crm_field']} ↔ {data['app_field']} is mapped.")
        return redirect(_page_url(config, entity))
    return _render(request, config, entity, add_form=form, status=400)


def _saved(request, form: MappingForm, save) -> bool:
    """A valid form saved by `save(**fields)`, a mapping service given the actor, the form's app
    field, direction and transform, and the transform's parameters read from the post: True
    once saved; a refusal's message goes into the form."""
    if not form.is_valid():
        return False
    data = form.cleaned_data
    try:
        fields = {
            "actor": request.user,
            "app_field": data["app_field"],
            "direction": data["direction"],
            "transform": data["transform"],
            "params": params_from(request.POST, data["transform"]),
        }
        _service(lambda: save(**fields))
    except ApplicationError as exc:
        _errors_into(form, exc)
        return False
    return True


def _mapping(config: CrmConfig, mapping_id: int) -> tuple[str, FieldMapping]:
    try:
        return selectors.mapping_for(config=config, mapping_id=mapping_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
@require_POST
def mapping_edit(request, config_id: int, mapping_id: int):
    config = _config(request, config_id)
    _require_admin(request, config)
    entity, field = _mapping(config, mapping_id)
    form = MappingForm(
        request.POST,
        crm_choices=[],
        app_choices=_app_choices(entity, field.source_field),
        editing=True,
    )
    saved = _saved(
        request,
        form,
        lambda **fields: services.mapping_update(
            config=config, entity=entity, field=field, **fields
        ),
    )
    if saved:
        messages.success(request, f"The mapping of {field.target_field} is saved.")
        return redirect(_page_url(config, entity))
    return _render(request, config, entity, edit_field=field, edit_form=form, status=400)


@login_required
@require_POST
def mapping_remove(request, config_id: int, mapping_id: int):
    config = _config(request, config_id)
    _require_admin(request, config)
    entity, field = _mapping(config, mapping_id)
    try:
        _service(
            lambda: services.mapping_remove(
                config=config, entity=entity, field=field, actor=request.user
            )
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{field.target_field} is no longer synced (its values stay on both sides)."
        )
    return redirect(_page_url(config, entity))


@login_required
@require_POST
def mapping_automap(request, config_id: int):
    """Accept the ticked auto-map pairs: each value is CRM field|hub field|direction, added all
    or none through mapping_add_many."""
    config = _config(request, config_id)
    _require_admin(request, config)
    entity = _entity(request, config)
    rows = []
    for value in request.POST.getlist("pair"):
        crm_field, _, rest = value.partition("|")
        app_field, _, direction = rest.partition("|")
        if direction not in FieldMapping.Direction.values:
            direction = FieldMapping.Direction.BOTH
        rows.append({"crm_field": crm_field, "app_field": app_field, "direction": direction})
    if not rows:
        return _render(
            request,
            config,
            entity,
            automap_problem="Tick the pairs to map first (none was ticked).",
            status=400,
        )
    try:
        _service(
            lambda: services.mapping_add_many(
                config=config, entity=entity, actor=request.user, rows=rows
            )
        )
    except ApplicationError as exc:
        return _render(request, config, entity, automap_problem=exc.message, status=400)
    names = ", ".join(f"{row['crm_field']} ↔ {row['app_field']}" for row in rows)
    messages.success(request, f"Mapped {len(rows)} field{'s' if len(rows) > 1 else ''}: {names}.")
    return redirect(_page_url(config, entity))

"""Admin of field mapping: mapping sets (inline field mappings with validated parameters,
preview, JSON export and import) and lookup tables. Imported by integrations/admin.py, which
Django's admin discovers."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import content_disposition_header
from django.utils.text import slugify

from integrations.accounts import selectors
from integrations.accounts.admin import WorkspaceScopedAdmin
from integrations.accounts.models import Membership, Workspace
from integrations.mapping import engine, transforms
from integrations.mapping.models import FieldMapping, LookupEntry, LookupTable, MappingSet
from integrations.mapping.transforms import MappingError

IMPORT_MAX_BYTES = 1_000_000  # an export of even a large set is a few kB; the file is read whole


def _param_kind(spec: dict) -> str:
    """A parameter's JSON Schema in words, for the Transforms reference."""
    if "enum" in spec:
        return "one of " + ", ".join(json.dumps(value) for value in spec["enum"])
    kind = spec.get("type")
    if kind is None:
        return "any JSON value"
    if kind == "array" and isinstance(spec.get("items"), dict):
        return f"list of {_param_kind(spec['items'])}"
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
        return f"object of {_param_kind(spec['additionalProperties'])}"
    return transforms.kind_words(kind)


def _param_note(spec: dict) -> str:
    limits = [
        f"{label} {spec[key]}"
        for key, label in (
            ("minimum", "at least"),
            ("maximum", "at most"),
            ("minLength", "length at least"),
            ("maxLength", "length at most"),
        )
        if key in spec
    ]
    if "pattern" in spec:
        limits.append(f"matching {spec['pattern']}")
    return "; ".join([*limits, *([spec["description"]] if spec.get("description") else [])])


def transform_reference(used: set[str] | frozenset[str] = frozenset()) -> list[dict]:
    """Every registered transform with its parameters, read from the registry so the page
    never disagrees with what `FieldMapping.clean()` accepts."""
    rows = []
    for name, transform in sorted(transforms.REGISTRY.items()):
        required = set(transform.schema.get("required", ()))
        rows.append(
            {
                "name": name,
                "description": transform.description,
                "pure": transform.pure,
                "used": name in used,
                "params": [
                    {
                        "name": key,
                        "kind": _param_kind(spec),
                        "required": key in required,
                        "note": _param_note(spec),
                    }
                    for key, spec in transform.schema.get("properties", {}).items()
                ],
            }
        )
    return rows


def _load_json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(
            f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None


def shown(value) -> str:
    """A JSON value as a person reads it in a table cell: text as is, the rest as JSON."""
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:199] + "…"


def _json_download(data, filename: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


class FieldMappingForm(forms.ModelForm):
    # A select of the registry rather than free text; `choices` is the callable so a transform
    # registered after import still shows up.
    transform = forms.ChoiceField(choices=transforms.choices, initial="rename")
    params = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 36}),
        help_text="A JSON object; the Transforms reference below lists each one's parameters.",
    )

    class Meta:
        model = FieldMapping
        fields = ["position", "source_field", "target_field", "transform", "params", "direction"]

    def clean_params(self):
        # An emptied box means "no parameters"; the column is NOT NULL.
        return self.cleaned_data.get("params") or {}


class FieldMappingInline(admin.TabularInline):
    """The parameters are checked by FieldMapping.clean() (run by the model form), so a bad
    one is an error on the row, naming the parameter, and nothing of the set is saved."""

    model = FieldMapping
    form = FieldMappingForm  # its Meta.fields are the row's columns
    extra = 1


class MappingSetForm(forms.ModelForm):
    class Meta:
        model = MappingSet
        fields = [
            "workspace",
            "name",
            "connection",
            "source_entity",
            "target_entity",
            "required_fields",
            "requires_approval",
            "description",
        ]
        help_texts = {
            "target_entity": "With an empty list of required fields, these take their preset on "
            f"save: {', '.join(engine.REQUIRED_FIELDS)}.",
            "required_fields": 'A JSON list of target field names, e.g. ["name", "team_id"].',
        }

    def clean_required_fields(self):
        value = self.cleaned_data.get("required_fields")
        if value in (None, ""):
            return []
        if not isinstance(value, list) or not all(
            isinstance(name, str) and name.strip() for name in value
        ):
            raise forms.ValidationError(
                'Give a JSON list of target field names, e.g. ["name", "team_id"].'
            )
        return [name.strip() for name in value]

    def clean(self):
        cleaned = super().clean()
        connection, workspace = cleaned.get("connection"), cleaned.get("workspace")
        if connection and workspace and connection.workspace_id != workspace.pk:
            self.add_error("connection", "Pick a connection of the set's own workspace.")
        return cleaned


class MappingPreviewForm(forms.Form):
    record = forms.CharField(
        label="Sample record",
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80, "class": "vLargeTextField"}),
        help_text="One source record as a JSON object. Nothing is written.",
    )

    def clean_record(self):
        record = _load_json(self.cleaned_data["record"])
        if not isinstance(record, dict):
            raise forms.ValidationError("The sample record must be a JSON object ({…}).")
        return record


class MappingSetImportForm(forms.Form):
    file = forms.FileField(required=False, help_text="A .json file from “Export as JSON”.")
    text = forms.CharField(
        required=False,
        label="…or paste the JSON",
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80, "class": "vLargeTextField"}),
    )
    workspace = forms.ModelChoiceField(
        queryset=Workspace.objects.none(), help_text="Only workspaces you administer."
    )
    name = forms.CharField(
        max_length=120, required=False, help_text="Leave empty to keep the name in the file."
    )
    replace = forms.BooleanField(
        required=False,
        label="Replace an existing set of that name",
        help_text="Its settings and fields become the file's.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workspace"].queryset = selectors.scope_to_user(
            Workspace.objects.all(), user, role=Membership.Role.ADMIN
        )

    def clean(self):
        cleaned = super().clean()
        upload, text = cleaned.get("file"), (cleaned.get("text") or "").strip()
        if upload and text:
            raise forms.ValidationError("Give either a file or pasted JSON, not both.")
        if not upload and not text:
            self.add_error("file", "Choose a file or paste the JSON.")
            return cleaned
        cleaned["source"] = "file" if upload else "text"
        if upload:
            if upload.size > IMPORT_MAX_BYTES:
                self.add_error("file", "The file is larger than 1 MB; an export is far smaller.")
                return cleaned
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("file", "The file is not UTF-8 text.")
                return cleaned
        try:
            cleaned["data"] = _load_json(text)
        except forms.ValidationError as exc:
            self.add_error(cleaned["source"], exc)
        return cleaned


@admin.register(MappingSet)
class MappingSetAdmin(WorkspaceScopedAdmin):
    form = MappingSetForm
    inlines = [FieldMappingInline]
    change_form_template = "admin/integrations/mappingset/change_form.html"
    change_list_template = "admin/integrations/mappingset/change_list.html"
    list_display = [
        "name",
        "workspace",
        "target_entity",
        "connection",
        "requires_approval",
        "field_count",
    ]
    list_filter = [
        "target_entity",
        "requires_approval",
        ("workspace", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["name", "source_entity", "target_entity", "description"]
    list_select_related = ["workspace", "connection"]
    readonly_fields = ["created_at", "updated_at"]
    actions = ["export_as_json"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(field_count=Count("fields"))

    @admin.display(description="fields", ordering="field_count")
    def field_count(self, obj):
        return obj.field_count

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        # Before the defaults: their "<path:object_id>/" would take "import/" for an id.
        return [
            path("import/", wrap(self.import_view), name="{}_{}_import".format(*info)),
            path(
                "<int:object_id>/preview/",
                wrap(self.preview_view),
                name="{}_{}_preview".format(*info),
            ),
            path(
                "<int:object_id>/export/",
                wrap(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        used = set(obj.fields.values_list("transform", flat=True)) if obj and obj.pk else set()
        context["transform_reference"] = transform_reference(used)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "has_import_permission": self.has_add_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        preset = engine.REQUIRED_FIELDS.get(obj.target_entity.strip())
        if not obj.required_fields and preset:
            obj.required_fields = list(preset)
            self.message_user(
                request,
                f"Required fields were empty: filled in the preset for {obj.target_entity} "
                f"({', '.join(preset)}).",
                messages.INFO,
            )
        super().save_model(request, obj, form, change)

    def _viewable_set(self, request, object_id) -> MappingSet:
        # Another workspace's set is not there at all (404), like in the lists.
        mapping_set = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_permission(request, mapping_set):
            raise PermissionDenied
        return mapping_set

    def _page(self, request, template: str, **context) -> TemplateResponse:
        return TemplateResponse(
            request,
            f"admin/integrations/mappingset/{template}",
            {**self.admin_site.each_context(request), "opts": self.opts, **context},
        )

    def preview_view(self, request, object_id):
        mapping_set = self._viewable_set(request, object_id)
        if request.method == "POST":
            form = MappingPreviewForm(request.POST)
        else:
            sources = [s for f in mapping_set.fields.all() for s in f.source_fields]
            form = MappingPreviewForm(
                initial={"record": json.dumps(dict.fromkeys(sources, ""), indent=2)}
            )
        rows = None
        if form.is_bound and form.is_valid():
            try:
                result = engine.preview(mapping_set, form.cleaned_data["record"])
            except MappingError as exc:
                form.add_error(None, exc.message)
            else:
                rows = _preview_rows(mapping_set, result)
        return self._page(
            request,
            "preview.html",
            title=f"Preview: {mapping_set}",
            original=mapping_set,
            form=form,
            rows=rows,
        )

    def export_view(self, request, object_id):
        mapping_set = self._viewable_set(request, object_id)
        return _json_download(engine.export_set(mapping_set), _export_filename(mapping_set))

    @admin.action(description="Export as JSON", permissions=["view"])
    def export_as_json(self, request, queryset):
        sets = list(queryset.prefetch_related("fields"))
        if len(sets) == 1:
            return _json_download(engine.export_set(sets[0]), _export_filename(sets[0]))
        return _json_download([engine.export_set(s) for s in sets], "mapping-sets.json")

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = MappingSetImportForm(request.POST, request.FILES, user=request.user)
        else:
            form = MappingSetImportForm(user=request.user)
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            if data["replace"] and not self.has_change_permission(request):
                form.add_error("replace", "You may not change existing mapping sets.")
            else:
                try:
                    mapping_set = engine.import_set(
                        data["data"],
                        workspace=data["workspace"],
                        name=data["name"].strip(),
                        replace=data["replace"],
                    )
                except MappingError as exc:
                    # A clash of names is the name box's; the rest (a transform, a parameter,
                    # the format) is the file's, and the message names the field at fault.
                    form.add_error("name" if exc.field == "name" else data["source"], exc.message)
                else:
                    self.message_user(
                        request,
                        f"Imported the mapping set “{mapping_set}” into {mapping_set.workspace} "
                        f"with {mapping_set.fields.count()} field(s).",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse("admin:integrations_mappingset_change", args=[mapping_set.pk])
                    )
        return self._page(
            request,
            "import.html",
            title="Import a mapping set",
            form=form,
            has_view_permission=self.has_view_permission(request),
        )


def _export_filename(mapping_set: MappingSet) -> str:
    return f"mapping-set-{slugify(mapping_set.name) or mapping_set.pk}.json"


def _preview_rows(mapping_set: MappingSet, result: dict) -> list[dict]:
    """engine.preview()'s answer as table rows, in the set's order: each pushed target with
    its value or error, then the required fields no mapping fills."""
    output, errors = result["output"], result["errors"]
    missing, deferred = set(result["missing_required"]), set(result["deferred"])
    required = set(mapping_set.required_fields)
    pushed = [
        f.target_field.strip()
        for f in mapping_set.fields.all()
        if f.direction in (FieldMapping.Direction.PUSH, FieldMapping.Direction.BOTH)
    ]
    rows = []
    for target in dict.fromkeys([*pushed, *output, *errors, *result["missing_required"]]):
        row = {"target": target, "value": "", "note": "", "css": "", "required": target in required}
        if target in errors:
            row.update(note=errors[target], css="preview-error")
        elif target in deferred:
            row.update(value=output[target], note="deferred: given when written", css="deferred")
        elif target in missing:
            row.update(note="required, empty", css="missing-required")
        elif target in output:
            row["value"] = shown(output[target])
        rows.append(row)
    return rows


class LookupEntryForm(forms.ModelForm):
    class Meta:
        model = LookupEntry
        fields = ["key", "value"]

    def clean_key(self):
        # LookupEntry.save() stores keys this way; doing it here too lets the formset's
        # uniqueness check see "A@x.ch" and "a@x.ch" as one key, before the database would.
        return self.cleaned_data["key"].strip().lower()


class LookupEntryInline(admin.TabularInline):
    model = LookupEntry
    form = LookupEntryForm
    extra = 1
    fields = ["key", "value"]


@admin.register(LookupTable)
class LookupTableAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "description", "entry_count", "version"]
    list_filter = [("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "description"]
    list_select_related = ["workspace"]
    readonly_fields = ["version"]
    inlines = [LookupEntryInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(entry_count=Count("entries"))

    @admin.display(description="entries", ordering="entry_count")
    def entry_count(self, obj):
        return obj.entry_count

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if any(getattr(formset, "deleted_objects", None) for formset in formsets):
            # A deleted entry does not pass through LookupEntry.save(), which moves the version
            # on; without this the removed key would still be answered from the cache.
            LookupTable.objects.filter(pk=form.instance.pk).update(version=F("version") + 1)

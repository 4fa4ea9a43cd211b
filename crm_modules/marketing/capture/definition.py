"""What a form asks: its fields (each mapped to a lead/contact field, a contact custom field
(``custom.<code>``) or a lead custom field (``lead.custom.<code>``), whose answers are checked
by the field's type and whose required flag makes the form's field required), its consent
checkboxes (one per channel) and the sites allowed to embed it. Checked
before a form is saved, naming the part at fault."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm_modules.sales.api import Channel, CustomField
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text

# Where a form field's value goes, with its maximum length. Lead fields are the lead's own;
# "job_title" is a contact field that a new lead keeps in its notes.
TARGETS: dict[str, tuple[Any, int]] = {
    "first_name": (gettext_lazy("First name"), 100),
    "last_name": (gettext_lazy("Last name"), 100),
    "email": (gettext_lazy("Email"), 254),
    "phone": (gettext_lazy("Phone"), 20),
    "company_name": (gettext_lazy("Company"), 200),
    "job_title": (gettext_lazy("Job title"), 150),
    "notes": (gettext_lazy("Message"), 2000),
}
CUSTOM_PREFIX = "custom."
LEAD_CUSTOM_PREFIX = "lead.custom."
CUSTOM_MAX_LENGTH = 500
MAX_FIELDS = 20
MAX_ORIGINS = 20
CUSTOM_CODE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class FormField:
    target: str
    label: str
    required: bool

    @property
    def max_length(self) -> int:
        if self.target.startswith((CUSTOM_PREFIX, LEAD_CUSTOM_PREFIX)):
            return CUSTOM_MAX_LENGTH
        return int(TARGETS[self.target][1])

    @property
    def input_type(self) -> str:
        if self.target.startswith(LEAD_CUSTOM_PREFIX):
            field = lead_custom_fields().get(self.target.removeprefix(LEAD_CUSTOM_PREFIX))
            kind = field.type if field is not None else ""
            return LEAD_INPUT_TYPES.get(kind, "text")
        return {"email": "email", "phone": "tel"}.get(self.target, "text")

    @property
    def options(self) -> list[str]:
        """A lead select's options (the visitor picks one); empty for any other field."""
        if not self.target.startswith(LEAD_CUSTOM_PREFIX):
            return []
        field = lead_custom_fields().get(self.target.removeprefix(LEAD_CUSTOM_PREFIX))
        if field is None or field.type not in ("select", "boolean"):
            return []
        if field.type == "boolean":
            return [_("Yes"), _("No")]
        return list(field.options)

    def as_json(self) -> dict[str, Any]:
        return {"target": self.target, "label": self.label, "required": self.required}


def contact_custom_codes() -> dict[str, str]:
    """Custom fields of contacts a form may fill: code → label (not archived ones)."""
    rows = CustomField.objects.filter(entity="contact", archived_at__isnull=True).values_list(
        "code", "label"
    )
    return dict(rows)


# The input a visitor types a lead custom field's answer in, by the field's type.
LEAD_INPUT_TYPES = {
    "number": "number",
    "date": "date",
    "email": "email",
    "phone": "tel",
    "url": "url",
}
# Lead custom fields a visitor cannot answer: a member of the workspace is not theirs to name.
NOT_FOR_VISITORS = frozenset({"member", "multi_select", "datetime"})


def lead_custom_fields() -> dict[str, CustomField]:
    """Custom fields of leads a form may fill: code → field (not archived, not members)."""
    rows = CustomField.objects.filter(entity="lead", archived_at__isnull=True).exclude(
        type__in=NOT_FOR_VISITORS
    )
    return {f.code: f for f in rows}


def target_choices() -> list[tuple[str, str]]:
    choices = [(code, str(label)) for code, (label, _length) in TARGETS.items()]
    choices += [
        (f"{CUSTOM_PREFIX}{code}", label) for code, label in sorted(contact_custom_codes().items())
    ]
    choices += [
        (f"{LEAD_CUSTOM_PREFIX}{code}", _("Lead: %(label)s") % {"label": field.label})
        for code, field in sorted(lead_custom_fields().items())
    ]
    return choices


def check_fields(raw: Any) -> list[FormField]:
    if not isinstance(raw, list) or not raw:
        raise ServiceError(_("Add at least one field."), field="fields", code="required")
    if len(raw) > MAX_FIELDS:
        raise ServiceError(
            _("A form has at most %(max)d fields.") % {"max": MAX_FIELDS}, field="fields"
        )
    custom = contact_custom_codes()
    lead_custom = lead_custom_fields()
    fields: list[FormField] = []
    for index, item in enumerate(raw):
        where = f"fields[{index}]"
        if not isinstance(item, dict) or set(item) - {"target", "label", "required"}:
            raise ServiceError(_("A field has a target, a label and required."), field=where)
        target = item.get("target")
        if not isinstance(target, str):
            raise ServiceError(_("Choose where the answer goes."), field=f"{where}.target")
        lead_field = None
        if target.startswith(LEAD_CUSTOM_PREFIX):
            code = target.removeprefix(LEAD_CUSTOM_PREFIX)
            lead_field = lead_custom.get(code) if CUSTOM_CODE.match(code) else None
            if lead_field is None:
                raise ServiceError(
                    _("There is no lead custom field %(code)s a visitor can fill.")
                    % {"code": code[:60]},
                    field=f"{where}.target",
                )
        elif target.startswith(CUSTOM_PREFIX):
            code = target.removeprefix(CUSTOM_PREFIX)
            if not CUSTOM_CODE.match(code) or code not in custom:
                raise ServiceError(
                    _("There is no contact custom field %(code)s.") % {"code": code},
                    field=f"{where}.target",
                )
        elif target not in TARGETS:
            raise ServiceError(_("Choose where the answer goes."), field=f"{where}.target")
        if any(f.target == target for f in fields):
            raise ServiceError(
                _("Two fields fill %(target)s.") % {"target": target}, field=f"{where}.target"
            )
        raw_label = item.get("label")
        label = check_text(
            raw_label if isinstance(raw_label, str) else "",
            field=f"{where}.label",
            max_length=100,
            label=_("Label"),
        )
        required = item.get("required", False)
        if not isinstance(required, bool):
            raise ServiceError(_("Say yes or no."), field=f"{where}.required")
        # A lead field the workspace requires is required on the form too.
        needed = required or target == "email" or bool(lead_field and lead_field.required)
        fields.append(FormField(target=target, label=label, required=needed))
    if not any(f.target == "email" for f in fields):
        raise ServiceError(
            _("A form needs an email field: it is how a person is recognised."),
            field="fields",
            code="required",
        )
    return fields


def load_fields(stored: Any) -> list[FormField]:
    """A stored (already checked) definition, read back."""
    return [
        FormField(target=f["target"], label=f["label"], required=bool(f["required"]))
        for f in stored
    ]


def check_consent_channels(raw: Any) -> list[str]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or any(c not in Channel.values for c in raw):
        raise ServiceError(_("Choose channels from the list."), field="consent_channels")
    return [c for c in Channel.values if c in raw]


def check_origins(raw: Any) -> list[str]:
    """Sites allowed to embed the form: scheme and host (and port), nothing else."""
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        raw = [line for line in raw.split() if line]
    if not isinstance(raw, list) or len(raw) > MAX_ORIGINS:
        raise ServiceError(
            _("Give at most %(max)d sites.") % {"max": MAX_ORIGINS}, field="allowed_origins"
        )
    origins: list[str] = []
    for item in raw:
        parts = urlsplit(item.strip() if isinstance(item, str) else "")
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or parts.username
        ):
            raise ServiceError(
                _("%(site)s is not a site such as https://example.com.") % {"site": item},
                field="allowed_origins",
            )
        origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return sorted(set(origins))

"""Custom fields (ADR 0012): admins define them per entity; values are validated by type and
stored as JSON in the record's ``custom`` column, normalised so that equal values compare
equal in a containment filter."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import JSONField, Max, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.sales.models import CustomField, DeletedCustomField
from crm_modules.sales.module import (
    CUSTOM_FIELD_ARCHIVED,
    CUSTOM_FIELD_CREATED,
    CUSTOM_FIELD_DELETED,
    CUSTOM_FIELD_RESTORED,
    CUSTOM_FIELD_UPDATED,
    MANAGE_CUSTOM_FIELDS,
)
from crm_modules.sales.services import checks
from crm_modules.sales.services.custom_changes import custom_definition_changed
from crm_modules.sales.services.scores import score_inputs_changed
from crm_platform.errors import ServiceError
from crm_platform.validation import check_email, check_text
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
SELECTS = {CustomField.Type.SELECT, CustomField.Type.MULTI_SELECT}


def custom_field_create(
    *,
    actor: Membership,
    entity: str,
    code: str,
    label: str,
    type: str,
    options: list[str] | None = None,
    help_text: str = "",
    required: bool = False,
    customer_visible: bool = False,
    default_value: Any = None,
) -> CustomField:
    """``default_value``: what a new record gets when the channel creating it does not give
    the field (ADR 0055); checked like a record's value, None for no default."""
    require(actor, MANAGE_CUSTOM_FIELDS)
    entity = checks.check_choice(
        entity, field="entity", choices=CustomField.Entity.values, blank=False
    )
    if not isinstance(code, str) or not _CODE.match(code):
        raise ServiceError(
            _("A code is lower-case letters, digits and underscores, starting with a letter."),
            field="code",
        )
    clean_label = _check_label(label)
    kind = checks.check_choice(type, field="type", choices=CustomField.Type.values, blank=False)
    clean_options = _check_options(kind, options)
    clean_help = _check_help(help_text)
    clean_required = _check_required(required)
    clean_visible = _check_customer_visible(entity, kind, customer_visible)
    clean_default = _check_default(entity, kind, clean_options, clean_label, default_value)
    with transaction.atomic():
        if CustomField.objects.filter(entity=entity, code=code).exists():
            raise ServiceError(_("A field with this code already exists."), field="code")
        position = (
            CustomField.objects.filter(entity=entity).aggregate(top=Max("position"))["top"] or 0
        ) + 1
        DeletedCustomField.objects.filter(entity=entity, code=code).delete()
        field = CustomField.objects.create(
            entity=entity,
            code=code,
            label=clean_label,
            type=kind,
            options=clean_options,
            position=position,
            help_text=clean_help,
            required=clean_required,
            customer_visible=clean_visible,
            default_value=clean_default,
        )
        audit_record(
            tenant=actor.tenant, actor=actor.user, action=CUSTOM_FIELD_CREATED, target=field
        )
        # Values stored under the code (before any field, or since a deleted one) now read
        # by the new definition.
        custom_definition_changed(entity=entity, code=code)
    return field


def _check_label(raw: Any) -> str:
    return check_text(raw, field="label", max_length=100, label=_("Label"))


def _check_help(raw: Any) -> str:
    return checks.check_optional_text(raw, field="help_text", max_length=300, label=_("Help"))


def _check_required(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise ServiceError(_("Choose yes or no."), field="required")
    return raw


def _check_customer_visible(entity: str, kind: str, raw: Any) -> bool:
    """Only a ticket field a customer can fill may be shown to customers: they open tickets
    on the portal and the web form, and know nothing of the workspace's members."""
    if not isinstance(raw, bool):
        raise ServiceError(_("Choose yes or no."), field="customer_visible")
    if raw and entity != CustomField.Entity.TICKET:
        raise ServiceError(
            _("Only ticket fields can be shown to customers."), field="customer_visible"
        )
    if raw and kind == CustomField.Type.MEMBER:
        raise ServiceError(
            _("A member field cannot be shown to customers."), field="customer_visible"
        )
    return raw


def _check_default(entity: str, kind: str, options: list[str], label: str, raw: Any) -> Any:
    """A field's default in the normal form of its type, or None. A member field has none:
    the member it named could leave the workspace while the default stays."""
    if raw is None or raw == "" or raw == []:
        return None
    if kind == CustomField.Type.MEMBER:
        raise ServiceError(_("A member field cannot have a default value."), field="default_value")
    probe = CustomField(entity=entity, code="default", label=label, type=kind, options=options)
    return check_value(None, probe, raw, field="default_value")


def _check_options(kind: str, raw: Any) -> list[str]:
    if kind not in SELECTS:
        if raw:
            raise ServiceError(_("Only a select field has options."), field="options")
        return []
    clean = checks.check_tags(raw or [], field="options")
    if not clean:
        raise ServiceError(_("A select needs at least one option."), field="options")
    return clean


def _check_position(raw: Any) -> int:
    try:
        position = int(str(raw).strip())
    except ValueError:
        raise ServiceError(_("Enter a whole number."), field="position") from None
    if not 0 <= position <= 10_000:
        raise ServiceError(_("Enter a number from 0 to 10000."), field="position")
    return position


# What an admin may change of a field once it exists: its code and type stay, as the values
# stored in the records are keyed by the code and normalised by the type.
UPDATABLE = (
    "label",
    "help_text",
    "options",
    "required",
    "position",
    "customer_visible",
    "default_value",
)


def custom_field_update(
    *, actor: Membership, field: CustomField, changes: Mapping[str, Any]
) -> CustomField:
    """Change a field's label, help, options (a select's), required flag, position, whether
    customers fill it (a ticket field's) or its default value.
    Values already stored stay as they are, including an option that is no longer offered;
    the default must stay one of the options."""
    require(actor, MANAGE_CUSTOM_FIELDS)
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise ServiceError(_("This field cannot be changed here."), field=unknown[0])
    clean: dict[str, Any] = {}
    if "label" in changes:
        clean["label"] = _check_label(changes["label"])
    if "help_text" in changes:
        clean["help_text"] = _check_help(changes["help_text"])
    if "options" in changes:
        clean["options"] = _check_options(field.type, changes["options"])
    if "required" in changes:
        clean["required"] = _check_required(changes["required"])
    if "position" in changes:
        clean["position"] = _check_position(changes["position"])
    if "customer_visible" in changes:
        clean["customer_visible"] = _check_customer_visible(
            field.entity, field.type, changes["customer_visible"]
        )
    options = clean.get("options", field.options)
    label = clean.get("label", field.label)
    if "default_value" in changes:
        clean["default_value"] = _check_default(
            field.entity, field.type, options, label, changes["default_value"]
        )
    with transaction.atomic():
        locked = CustomField.objects.select_for_update().get(pk=field.pk)
        if "options" in clean and "default_value" not in clean:
            _check_default_kept(locked, clean["options"])
        changed = {name: value for name, value in clean.items() if getattr(locked, name) != value}
        if not changed:
            return locked
        for name, value in changed.items():
            setattr(locked, name, value)
        locked.save(update_fields=list(changed))
        if "options" in changed:
            # A stored value no longer offered stops counting for the modules that read it
            # (an SLA policy chosen by tier, ADR 0068); one offered again counts again.
            custom_definition_changed(entity=locked.entity, code=locked.code)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=CUSTOM_FIELD_UPDATED,
            target=locked,
            data={"entity": locked.entity, "code": locked.code, "changed": sorted(changed)},
        )
    return locked


def _check_default_kept(field: CustomField, options: list[str]) -> None:
    """Options may not drop the one the default names: new records would get a value the
    field no longer offers."""
    default = field.default_value
    if default is None:
        return
    chosen = default if isinstance(default, list) else [default]
    if any(item not in options for item in chosen):
        raise ServiceError(
            _("The default value must stay one of the options: change it first."),
            field="options",
        )


def custom_field_archive(*, actor: Membership, field: CustomField, archived: bool) -> CustomField:
    """Archive (or restore) a field: archived, it leaves forms, lists and filters and takes no
    new values; the records keep theirs, shown again once it is restored."""
    require(actor, MANAGE_CUSTOM_FIELDS)
    if not isinstance(archived, bool):
        raise ServiceError(_("Choose yes or no."), field="archived")
    with transaction.atomic():
        locked = CustomField.objects.select_for_update().get(pk=field.pk)
        if archived == (locked.archived_at is not None):
            return locked
        locked.archived_at = timezone.now() if archived else None
        locked.save(update_fields=["archived_at"])
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=CUSTOM_FIELD_ARCHIVED if archived else CUSTOM_FIELD_RESTORED,
            target=locked,
            data={"entity": locked.entity, "code": locked.code},
        )
        # Scoring rules on an archived field give no points: every score is told again.
        score_inputs_changed(entity=locked.entity, ids=None)
        custom_definition_changed(entity=locked.entity, code=locked.code)
    return locked


def custom_field_delete(*, actor: Membership, field: CustomField) -> None:
    """The definition goes; values stay in the records until overwritten, and are ignored
    (the deleted code is remembered, ADR 0068)."""
    require(actor, MANAGE_CUSTOM_FIELDS)
    with transaction.atomic():
        DeletedCustomField.objects.get_or_create(entity=field.entity, code=field.code)
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=CUSTOM_FIELD_DELETED,
            target_repr=str(field),
            data={"entity": field.entity, "code": field.code},
        )
        field.delete()
        # Scoring rules on the field give no points from now on: every score is told again.
        score_inputs_changed(entity=field.entity, ids=None)
        custom_definition_changed(entity=field.entity, code=field.code)


def check_custom_values(
    *,
    actor: Membership | None,
    entity: str,
    values: Any,
    current: Mapping[str, Any] | None = None,
    definitions: Mapping[str, CustomField] | None = None,
    complete: bool = False,
    new_record: bool = False,
) -> dict[str, Any]:
    """The record's new ``custom`` object: ``current`` with ``values`` applied (None clears a
    field). A code with no definition — or one deleted or archived while a form was open — is
    refused, and so is clearing a required field. ``complete``: a new record filled in by a
    person (a form, the API's create), which must then give every required field (ADR 0053).
    ``new_record``: the values of a record being created, which gets the default of each
    field they leave out (``custom_defaults``, ADR 0055).
    ``definitions`` (code → field): the entity's fields, when the caller checks many records.
    ``actor`` None: a customer (``check_customer_custom_values``), who sets no member field."""
    if not isinstance(values, Mapping):
        raise ServiceError(
            _("Custom fields must be an object of field codes."), field="custom_fields"
        )
    if not values and not complete and not new_record:
        return dict(current or {})
    fields = (
        dict(definitions)
        if definitions is not None
        else {
            f.code: f for f in CustomField.objects.filter(entity=entity, archived_at__isnull=True)
        }
    )
    result = dict(current or {})
    for code, raw in values.items():
        name = f"custom_fields.{code}"
        definition = fields.get(code)
        if definition is None or definition.archived_at is not None:
            if current is not None and code in current and current[code] == raw:
                # The stored value of an archived (or deleted) field sent back unchanged, as
                # a caller that re-sends the whole object does: kept, nothing is set.
                continue
            raise ServiceError(
                _("There is no custom field “%(code)s”.") % {"code": str(code)[:50]}, field=name
            )
        if raw is None or raw == "" or raw == []:
            if definition.required:
                raise ServiceError(_("This field is required."), field=name)
            result.pop(code, None)
            continue
        result[code] = check_value(actor, definition, raw, field=name)
    if new_record:
        result = custom_defaults(
            entity=entity, custom=result, given=values, definitions=fields.values()
        )
    if complete:
        for definition in fields.values():
            missing = definition.code not in result
            if definition.required and definition.archived_at is None and missing:
                raise ServiceError(
                    _("This field is required."), field=f"custom_fields.{definition.code}"
                )
    return result


def check_value(actor: Membership | None, definition: CustomField, raw: Any, *, field: str) -> Any:
    kind = definition.type
    if kind in (CustomField.Type.TEXT, CustomField.Type.LONG_TEXT):
        limit = 200 if kind == CustomField.Type.TEXT else 20_000
        return checks.check_optional_text(
            raw, field=field, max_length=limit, label=definition.label
        )
    if kind == CustomField.Type.NUMBER:
        if isinstance(raw, bool):
            raise ServiceError(_("Enter a whole number."), field=field)
        try:
            number = int(str(raw).strip())
        except ValueError:
            raise ServiceError(_("Enter a whole number."), field=field) from None
        if abs(number) >= 2**53:
            raise ServiceError(_("The number is too large."), field=field)
        return number
    if kind in (CustomField.Type.DECIMAL, CustomField.Type.CURRENCY):
        try:
            value = Decimal(str(raw).strip())
        except InvalidOperation:
            raise ServiceError(_("Enter a number such as 12.50."), field=field) from None
        if not value.is_finite() or abs(value) >= Decimal("1e16"):
            raise ServiceError(_("Enter a number such as 12.50."), field=field)
        # Stored as a string: JSON numbers would lose the decimal's exactness.
        return str(value.quantize(Decimal("0.01")) if kind == CustomField.Type.CURRENCY else value)
    if kind == CustomField.Type.DATE:
        date = checks.check_date(raw, field=field)
        return date.isoformat() if date else None
    if kind == CustomField.Type.DATETIME:
        moment = checks.check_datetime(raw, field=field)
        return moment.astimezone(datetime.UTC).isoformat() if moment else None
    if kind == CustomField.Type.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "1", "yes", "on"):
            return True
        if str(raw).lower() in ("false", "0", "no", "off"):
            return False
        raise ServiceError(_("Choose yes or no."), field=field)
    if kind == CustomField.Type.SELECT:
        if raw not in definition.options:
            raise ServiceError(_("Choose a value from the list."), field=field)
        return raw
    if kind == CustomField.Type.MULTI_SELECT:
        chosen = raw if isinstance(raw, list) else [raw]
        if any(item not in definition.options for item in chosen):
            raise ServiceError(_("Choose values from the list."), field=field)
        return [option for option in definition.options if option in chosen]
    if kind == CustomField.Type.URL:
        return checks.check_url(raw if isinstance(raw, str) else "", field=field)
    if kind == CustomField.Type.EMAIL:
        return check_email(raw if isinstance(raw, str) else "", field=field)
    if kind == CustomField.Type.PHONE:
        return checks.check_phone(raw if isinstance(raw, str) else "", field=field)
    if kind == CustomField.Type.MEMBER and actor is not None:
        return checks.check_owner(actor, raw, field=field)
    raise ServiceError(_("This field cannot be changed here."), field=field)


def check_customer_custom_values(*, entity: str, values: Any) -> dict[str, Any]:
    """A new record's ``custom`` from what a customer filled (the portal, the web form): only
    the fields shown to customers are theirs to set — any other code is refused as unknown —
    and each of those marked required must be given (ADR 0053)."""
    visible = {
        f.code: f
        for f in CustomField.objects.filter(
            entity=entity, archived_at__isnull=True, customer_visible=True
        )
    }
    chosen = check_custom_values(
        actor=None, entity=entity, values=values, definitions=visible, complete=True
    )
    # Fields customers do not fill still get the workspace's defaults (ADR 0055).
    return custom_defaults(entity=entity, custom=chosen, given=values)


def custom_defaults(
    *,
    entity: str,
    custom: Mapping[str, Any],
    given: Iterable[str] | None = None,
    definitions: Iterable[CustomField] | None = None,
) -> dict[str, Any]:
    """A new record's ``custom`` with the default value of each field in use (not archived)
    that the channel creating it did not give (ADR 0055). Every channel that creates records
    comes here: the create services (``new_record``), imports, inbound mail, the portal and
    the web form. ``given``: the codes the channel sent, an emptied one included — a person
    who cleared a prefilled field chose no value; by default the codes of ``custom``.
    ``definitions``: the entity's fields when the caller already has them (one query less per
    record of an import)."""
    sent = set(custom if given is None else given)
    fields = (
        definitions
        if definitions is not None
        else CustomField.objects.filter(
            entity=entity, archived_at__isnull=True, default_value__isnull=False
        )
    )
    result = dict(custom)
    for field in fields:
        if (
            field.entity == entity
            and field.archived_at is None
            and field.default_value is not None
            and field.code not in sent
            and field.code not in result
        ):
            default = field.default_value
            result[field.code] = list(default) if isinstance(default, list) else default
    return result


# Pairs of types a lead's value carries over between on conversion (ADR 0055), besides the
# same type: a value that reads the same in the target field.
_CARRIES = {
    (CustomField.Type.TEXT, CustomField.Type.LONG_TEXT),
    (CustomField.Type.NUMBER, CustomField.Type.DECIMAL),
    (CustomField.Type.NUMBER, CustomField.Type.CURRENCY),
    (CustomField.Type.SELECT, CustomField.Type.TEXT),
    (CustomField.Type.SELECT, CustomField.Type.MULTI_SELECT),
    (CustomField.Type.EMAIL, CustomField.Type.TEXT),
    (CustomField.Type.URL, CustomField.Type.TEXT),
    (CustomField.Type.PHONE, CustomField.Type.TEXT),
}


def custom_carried(
    *, actor: Membership, values: Mapping[str, Any], source: str, target: str
) -> dict[str, Any]:
    """The values of a ``source`` record (a lead being converted) that a new ``target``
    record takes: those of fields with the same code in the target, of the same or a
    compatible type (``_CARRIES``), that the target field accepts — an option it does not
    offer, a member no longer active, stays behind. Nothing is removed from the source."""
    if not values:
        return {}
    origin = {
        f.code: f for f in CustomField.objects.filter(entity=source, archived_at__isnull=True)
    }
    targets = {
        f.code: f
        for f in CustomField.objects.filter(
            entity=target, archived_at__isnull=True, code__in=list(origin)
        )
    }
    carried: dict[str, Any] = {}
    for code, value in values.items():
        here, there = origin.get(code), targets.get(code)
        if here is None or there is None or value in (None, "", []):
            continue
        if here.type != there.type and (here.type, there.type) not in _CARRIES:
            continue
        raw = str(value) if there.type == CustomField.Type.TEXT else value
        try:
            carried[code] = check_value(actor, there, raw, field=f"custom_fields.{code}")
        except ServiceError:
            continue
    return carried


@dataclass(frozen=True)
class FieldInUse:
    """How a field's stored values read now: not at all while it is archived; for a select,
    only a value still among its options (casefolded here); otherwise any value."""

    archived: bool
    options: frozenset[str] | None

    def counts(self, value: str) -> bool:
        return not self.archived and (self.options is None or value.casefold() in self.options)


def custom_fields_in_use(*, code: str, entities: Iterable[str]) -> dict[str, FieldInUse]:
    """The field ``code`` of each of ``entities`` that defines one, or deleted it (then read
    like an archived field), in one query."""
    entities = list(entities)
    deleted = DeletedCustomField.objects.filter(code=code, entity__in=entities).values_list(
        "entity", Value(""), Value([], output_field=JSONField()), "deleted_at"
    )
    found: dict[str, FieldInUse] = {}
    for entity, kind, options, archived_at in (
        CustomField.objects.filter(code=code, entity__in=entities)
        .values_list("entity", "type", "options", "archived_at")
        .union(deleted, all=True)
    ):
        found[entity] = FieldInUse(
            archived=archived_at is not None,
            options=frozenset(str(o).casefold() for o in options) if kind in SELECTS else None,
        )
    return found

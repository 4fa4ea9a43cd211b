"""Columns of a file → fields of a record: the targets each kind of record offers, the headers
other CRMs write in their exports (recognised on upload), and the conversion of one row's
cells into the values a sales service validates."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm_modules.sales.api import CustomField

CUSTOM = "custom:"

CONTACT_TARGETS: dict[str, str | Promise] = {
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "full_name": gettext_lazy("Full name (split into first and last)"),
    "email": gettext_lazy("Email"),
    "email_2": gettext_lazy("Second email"),
    "phone": gettext_lazy("Phone"),
    "phone_2": gettext_lazy("Second phone"),
    "job_title": gettext_lazy("Job title"),
    "company": gettext_lazy("Company name (links or creates the company)"),
    "company_domain": gettext_lazy("Company domain (links or creates the company)"),
    "owner_email": gettext_lazy("Owner (a member's email)"),
    "lifecycle_stage": gettext_lazy("Lifecycle stage"),
    "tags": gettext_lazy("Tags (separated by commas)"),
    "source": gettext_lazy("Source"),
    "street": gettext_lazy("Street"),
    "city": gettext_lazy("City"),
    "region": gettext_lazy("Region"),
    "postal_code": gettext_lazy("Postal code"),
    "country": gettext_lazy("Country (two-letter code)"),
    "notes": gettext_lazy("Notes (a field of the record)"),
    "note": gettext_lazy("Note on the timeline"),
}
COMPANY_TARGETS: dict[str, str | Promise] = {
    "name": gettext_lazy("Name"),
    "domain": gettext_lazy("Domain"),
    "website": gettext_lazy("Website"),
    "industry": gettext_lazy("Industry"),
    "size": gettext_lazy("Size (employees)"),
    "owner_email": gettext_lazy("Owner (a member's email)"),
    "lifecycle_stage": gettext_lazy("Lifecycle stage"),
    "tags": gettext_lazy("Tags (separated by commas)"),
    "street": gettext_lazy("Street"),
    "city": gettext_lazy("City"),
    "region": gettext_lazy("Region"),
    "postal_code": gettext_lazy("Postal code"),
    "country": gettext_lazy("Country (two-letter code)"),
    "notes": gettext_lazy("Notes (a field of the record)"),
    "note": gettext_lazy("Note on the timeline"),
}
LEAD_TARGETS: dict[str, str | Promise] = {
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "full_name": gettext_lazy("Full name (split into first and last)"),
    "email": gettext_lazy("Email"),
    "phone": gettext_lazy("Phone"),
    "company": gettext_lazy("Company name"),
    "source": gettext_lazy("Source"),
    "status": gettext_lazy("Status"),
    "owner_email": gettext_lazy("Owner (a member's email)"),
    "notes": gettext_lazy("Notes (a field of the record)"),
    "note": gettext_lazy("Note on the timeline"),
}
DEAL_TARGETS: dict[str, str | Promise] = {
    "name": gettext_lazy("Name"),
    "pipeline": gettext_lazy("Pipeline (by name)"),
    "stage": gettext_lazy("Stage (by name)"),
    "amount": gettext_lazy("Amount"),
    "currency": gettext_lazy("Currency (three-letter code)"),
    "expected_close_date": gettext_lazy("Expected close date"),
    "lost_reason": gettext_lazy("Lost reason"),
    "company": gettext_lazy("Company name (links or creates the company)"),
    "company_domain": gettext_lazy("Company domain (links or creates the company)"),
    "contact_email": gettext_lazy("Contact emails (link existing contacts)"),
    "contact_name": gettext_lazy("Contact names (link existing contacts)"),
    "owner_email": gettext_lazy("Owner (a member's email)"),
    "note": gettext_lazy("Note on the timeline"),
}
ACTIVITY_TARGETS: dict[str, str | Promise] = {
    "kind": gettext_lazy("Type (call, meeting, email, message or note)"),
    "subject": gettext_lazy("Subject"),
    "body": gettext_lazy("Details"),
    "occurred_at": gettext_lazy("Date (and time)"),
    "occurred_time": gettext_lazy("Time (when in a column of its own)"),
    "direction": gettext_lazy("Direction (inbound or outbound)"),
    "outcome": gettext_lazy("Outcome"),
    "contact_email": gettext_lazy("Contact emails (link existing contacts)"),
    "contact_name": gettext_lazy("Contact names (link existing contacts)"),
    "company": gettext_lazy("Company name (links an existing company)"),
    "company_domain": gettext_lazy("Company domain (links an existing company)"),
    "deal": gettext_lazy("Deal name (links an existing deal)"),
    "author_email": gettext_lazy("Author (a member's email)"),
}
TARGETS = {
    "contact": CONTACT_TARGETS,
    "company": COMPANY_TARGETS,
    "lead": LEAD_TARGETS,
    "deal": DEAL_TARGETS,
    "activity": ACTIVITY_TARGETS,
}

# Headers of the exports of HubSpot, Salesforce, Pipedrive, Zoho and Rapport, compared after
# ``header_key`` (lower case, letters and digits only).
_CONTACT_ALIASES: dict[str, tuple[str, ...]] = {
    "first_name": ("firstname", "personfirstname", "givenname", "name_first"),
    "last_name": ("lastname", "personlastname", "surname", "familyname"),
    "full_name": ("name", "fullname", "personname", "contactname"),
    "email": (
        "email",
        "emailaddress",
        "personemail",
        "personemailwork",
        "emailwork",
        "primaryemail",
        "workemail",
    ),
    "email_2": ("secondaryemail", "personemailhome", "emailhome", "otheremail", "email2"),
    "phone": (
        "phone",
        "phonenumber",
        "personphone",
        "personphonework",
        "phonework",
        "businessphone",
        "workphone",
    ),
    "phone_2": (
        "mobile",
        "mobilephone",
        "mobilephonenumber",
        "personphonemobile",
        "phonemobile",
        "phone2",
    ),
    "job_title": ("jobtitle", "title", "personjobtitle", "position"),
    "company": (
        "company",
        "companyname",
        "accountname",
        "organization",
        "organisation",
        "personorganization",
        "organizationname",
        "associatedcompany",
    ),
    "company_domain": ("companydomain", "companydomainname", "domain", "emaildomain"),
    "owner_email": (
        "owner",
        "owneremail",
        "contactowner",
        "personowner",
        "hubspotowner",
        "contactownername",
        "ownername",
    ),
    "lifecycle_stage": ("lifecyclestage", "stage"),
    "tags": ("tags", "labels", "personlabels", "tag"),
    "source": ("source", "leadsource", "originalsource", "contactsource"),
    "street": (
        "street",
        "streetaddress",
        "address",
        "mailingstreet",
        "personaddress",
        "mailingaddress",
    ),
    "city": ("city", "mailingcity", "personaddresscity"),
    "region": (
        "region",
        "state",
        "stateregion",
        "mailingstate",
        "mailingstateprovince",
        "province",
    ),
    "postal_code": (
        "postalcode",
        "zip",
        "zipcode",
        "mailingzip",
        "mailingzippostalcode",
        "mailingpostalcode",
        "postcode",
    ),
    "country": ("country", "countryregion", "mailingcountry", "countrycode"),
    "notes": ("description",),
    "note": ("notes", "note", "lastnote", "latestnote", "notecontent"),
}
_COMPANY_ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "companyname",
        "accountname",
        "organization",
        "organizationname",
        "organisation",
    ),
    "domain": ("domain", "companydomainname", "companydomain", "emaildomain"),
    "website": ("website", "websiteurl", "url", "organizationwebsite"),
    "industry": ("industry", "organizationindustry"),
    "size": ("size", "numberofemployees", "employees", "companysize", "organizationemployees"),
    "owner_email": ("owner", "owneremail", "companyowner", "accountowner", "organizationowner"),
    "lifecycle_stage": ("lifecyclestage", "stage"),
    "tags": ("tags", "labels", "organizationlabels"),
    "street": ("street", "streetaddress", "address", "billingstreet", "organizationaddress"),
    "city": ("city", "billingcity", "organizationcity"),
    "region": ("region", "state", "stateregion", "billingstate", "billingstateprovince"),
    "postal_code": ("postalcode", "zip", "zipcode", "billingzip", "billingzippostalcode"),
    "country": ("country", "countryregion", "billingcountry", "countrycode"),
    "notes": ("description",),
    "note": ("notes", "note", "lastnote", "latestnote", "notecontent"),
}
_LEAD_ALIASES: dict[str, tuple[str, ...]] = {
    "first_name": ("firstname", "personfirstname", "givenname"),
    "last_name": ("lastname", "personlastname", "surname", "familyname"),
    "full_name": ("name", "fullname", "personname", "leadname", "contactname"),
    "email": ("email", "emailaddress", "personemail", "personemailwork", "emailwork", "workemail"),
    "phone": (
        "phone",
        "phonenumber",
        "personphone",
        "personphonework",
        "phonework",
        "mobile",
        "mobilephone",
        "businessphone",
    ),
    "company": (
        "company",
        "companyname",
        "accountname",
        "organization",
        "organisation",
        "organizationname",
        "personorganization",
    ),
    "source": ("source", "leadsource", "originalsource", "sourcechannel"),
    "status": ("status", "leadstatus", "hsleadstatus"),
    "owner_email": (
        "owner",
        "owneremail",
        "leadowner",
        "contactowner",
        "hubspotowner",
        "personowner",
    ),
    "notes": ("description",),
    "note": ("notes", "note", "lastnote", "latestnote", "notecontent"),
}
_DEAL_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "dealname", "title", "dealtitle", "opportunityname", "potentialname"),
    "pipeline": ("pipeline", "dealpipeline", "pipelinename", "salespipeline"),
    "stage": ("stage", "dealstage", "stagename", "opportunitystage", "salesstage"),
    "amount": ("amount", "value", "dealvalue", "dealamount", "opportunityamount"),
    "currency": (
        "currency",
        "currencycode",
        "dealcurrency",
        "dealcurrencycode",
        "currencyisocode",
        "opportunitycurrency",
    ),
    "expected_close_date": (
        "expectedclosedate",
        "closedate",
        "closingdate",
        "expectedclosingdate",
        "estimatedclosedate",
    ),
    "lost_reason": ("lostreason", "closedlostreason", "lossreason", "reasonforloss"),
    "company": (
        "company",
        "companyname",
        "accountname",
        "organization",
        "organisation",
        "organizationname",
        "associatedcompany",
    ),
    "company_domain": ("companydomain", "companydomainname", "domain", "organizationdomain"),
    "contact_email": (
        "contactemail",
        "contactemails",
        "email",
        "personemail",
        "primarycontactemail",
        "associatedcontactemail",
    ),
    "contact_name": (
        "contact",
        "contactname",
        "contactperson",
        "person",
        "personname",
        "primarycontact",
        "associatedcontact",
    ),
    "owner_email": (
        "owner",
        "owneremail",
        "dealowner",
        "opportunityowner",
        "potentialowner",
        "hubspotowner",
    ),
    "note": ("notes", "note", "lastnote", "latestnote", "notecontent", "description"),
}
_ACTIVITY_ALIASES: dict[str, tuple[str, ...]] = {
    "kind": ("type", "activitytype", "kind", "eventtype", "engagementtype"),
    "subject": ("subject", "title", "activitysubject"),
    "body": (
        "note",
        "notes",
        "description",
        "body",
        "bodypreview",
        "details",
        "content",
        "comments",
    ),
    "occurred_at": (
        "date",
        "activitydate",
        "duedate",
        "datetime",
        "occurredat",
        "when",
        "createdate",
        "callstarttime",
        "startdatetime",
        "timestamp",
        "donedate",
        "donetime",
    ),
    "occurred_time": ("time", "duetime", "activitytime", "starttime"),
    "direction": ("direction", "calldirection", "calltype"),
    "outcome": ("outcome", "result", "calloutcome", "callresult"),
    "contact_email": ("email", "contactemail", "personemail", "emailaddress"),
    "contact_name": ("contact", "contactname", "person", "personname", "associatedcontact"),
    "company": (
        "company",
        "companyname",
        "organization",
        "organisation",
        "organizationname",
        "accountname",
        "associatedcompany",
    ),
    "company_domain": ("companydomain", "domain"),
    "deal": ("deal", "dealname", "dealtitle", "associateddeal", "opportunity", "opportunityname"),
    "author_email": (
        "owner",
        "owneremail",
        "assignedtouser",
        "assignedto",
        "author",
        "user",
        "activityowner",
        "createdby",
    ),
}
_ALIASES = {
    "contact": _CONTACT_ALIASES,
    "company": _COMPANY_ALIASES,
    "lead": _LEAD_ALIASES,
    "deal": _DEAL_ALIASES,
    "activity": _ACTIVITY_ALIASES,
}

# A CRM's export prefixes its columns with the record ("Person - Email", "Organization -
# Name", "Deal - Value"); the prefix is dropped after the full header was tried.
_PREFIXES = ("person", "contact", "organization", "organisation", "company", "account")
_ENTITY_PREFIXES = {
    "contact": _PREFIXES,
    "company": _PREFIXES,
    "lead": ("lead", "person", "contact"),
    "deal": ("deal", "opportunity", "potential"),
    "activity": ("activity", "engagement", "task", "event", "call"),
}


def header_key(header: str) -> str:
    return "".join(char for char in header.lower() if char.isalnum())


def target_choices(entity: str, custom_fields: Sequence[CustomField]) -> list[tuple[str, str]]:
    choices = [(code, str(label)) for code, label in TARGETS[entity].items()]
    choices += [
        (f"{CUSTOM}{field.code}", _("Custom field: %(label)s") % {"label": field.label})
        for field in custom_fields
    ]
    return choices


def auto_map(
    entity: str, headers: Sequence[str], custom_fields: Sequence[CustomField]
) -> dict[str, str]:
    """Column index (as text) → target, for every header we recognise; each target once."""
    lookup: dict[str, str] = {}
    for code, aliases in _ALIASES[entity].items():
        for alias in aliases:
            lookup.setdefault(alias, code)
    # A target's own code ("notes") names it unless another target claims that header (the
    # "Notes" of other CRMs' exports go to the timeline).
    for code in TARGETS[entity]:
        lookup.setdefault(header_key(code), code)
    for field in custom_fields:
        lookup.setdefault(header_key(field.code), f"{CUSTOM}{field.code}")
        lookup.setdefault(header_key(field.label), f"{CUSTOM}{field.code}")
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for index, header in enumerate(headers):
        key = header_key(header)
        target: str | None = lookup.get(key)
        if target is None:
            for prefix in _ENTITY_PREFIXES[entity]:
                if key.startswith(prefix) and key != prefix:
                    target = lookup.get(key.removeprefix(prefix))
                    if target is not None:
                        break
        if target is not None and target not in used:
            mapping[str(index)] = target
            used.add(target)
    if "full_name" in used and {"first_name", "last_name"} & used:
        # Separate name columns win over a combined one.
        mapping = {k: v for k, v in mapping.items() if v != "full_name"}
    return mapping


# --- dates ----------------------------------------------------------------------------------

DATE_FORMATS: dict[str, tuple[str, str | Promise]] = {
    "iso": ("%Y-%m-%d", gettext_lazy("YYYY-MM-DD (2024-03-31)")),
    "dmy": ("%d/%m/%Y", gettext_lazy("DD/MM/YYYY (31/03/2024, 31.03.2024, 31-03-2024)")),
    "mdy": ("%m/%d/%Y", gettext_lazy("MM/DD/YYYY (03/31/2024)")),
    "ymd": ("%Y/%m/%d", gettext_lazy("YYYY/MM/DD (2024/03/31)")),
}
_DATE_SEPARATORS = re.compile(r"[.\-/ ]")
_AMBIGUOUS = re.compile(r"^\s*(\d{1,2})[./-](\d{1,2})[./-]\d{2,4}\s*$")


def parse_date(raw: str, date_format: str) -> str:
    """The date as YYYY-MM-DD, read in the file's date format; raise ValueError otherwise."""
    text = raw.strip().split(" ")[0].split("T")[0]
    pattern, _label = DATE_FORMATS.get(date_format, DATE_FORMATS["iso"])
    normalised = _DATE_SEPARATORS.sub("/", text)
    for candidate in (pattern.replace("-", "/"), pattern.replace("-", "/").replace("%Y", "%y")):
        try:
            return datetime.datetime.strptime(normalised, candidate).date().isoformat()  # noqa: DTZ007
        except ValueError:
            continue
    raise ValueError(text)


def is_ambiguous_date(raw: str) -> bool:
    """ "03/04/2024": the 3rd of April or the 4th of March? Only the user knows."""
    match = _AMBIGUOUS.match(raw)
    return bool(match) and int(match.group(1)) <= 12 and int(match.group(2)) <= 12  # type: ignore[union-attr]


# --- amounts and lead statuses ---------------------------------------------------------------

_CURRENCY_SYMBOLS = {
    "US$": "USD",
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "₽": "RUB",
    "฿": "THB",
    "₹": "INR",
    "₩": "KRW",
    "₺": "TRY",
    "₴": "UAH",
    "zł": "PLN",
}
_CODE_AT_ENDS = re.compile(r"^([A-Za-z]{3})(?=[\s\d.,'-])|(?<=[\s\d.,])([A-Za-z]{3})$")
_THOUSANDS_COMMA = re.compile(r"^-?\d{1,3}(,\d{3})+$")
_THOUSANDS_DOT = re.compile(r"^-?\d{1,3}(\.\d{3}){2,}$")
_PLAIN_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def parse_amount(raw: str) -> tuple[str, str]:
    """An amount as spreadsheets and CRMs write it ("1,234.50", "1.234,50 €", "USD 1 200",
    "CHF 1'000") → (the number as plain decimal text, the currency code it named or "").
    Raise ValueError when the cell is not an amount."""
    text = raw.strip()
    currency = ""
    for symbol, code in _CURRENCY_SYMBOLS.items():
        if symbol in text:
            currency = code
            text = text.replace(symbol, "")
            break
    match = _CODE_AT_ENDS.search(text.strip())
    if match:
        named = (match.group(1) or match.group(2)).upper()
        if currency and named != currency:
            raise ValueError(raw)
        currency = named
        text = text.strip()
        text = text[3:] if match.group(1) else text[:-3]
    for space in (" ", "\u00a0", "\u202f", "'", "\u2019"):
        text = text.replace(space, "")
    if text.startswith("(") and text.endswith(")"):
        text = "-" + text[1:-1]
    if "," in text and "." in text:
        decimal_mark = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal_mark == "," else ","
        text = text.replace(thousands, "").replace(decimal_mark, ".")
    elif "," in text:
        text = text.replace(",", "") if _THOUSANDS_COMMA.match(text) else text.replace(",", ".")
    elif _THOUSANDS_DOT.match(text):
        text = text.replace(".", "")
    if not _PLAIN_NUMBER.match(text):
        raise ValueError(raw)
    return text, currency


# Statuses other CRMs export (Salesforce, HubSpot, Zoho, Pipedrive), compared after
# ``header_key``, to Rapport's lead statuses. "converted" is refused: converting makes contacts.
_LEAD_STATUSES = {
    "new": (
        "new",
        "open",
        "opennotcontacted",
        "notcontacted",
        "notyetcontacted",
    ),
    "working": (
        "working",
        "workingcontacted",
        "contacted",
        "inprogress",
        "attemptedtocontact",
        "connected",
        "opendeal",
        "prequalified",
        "contactinfuture",
        "badtiming",
        "nurturing",
        "qualified",
    ),
    "disqualified": (
        "disqualified",
        "unqualified",
        "notqualified",
        "closednotconverted",
        "junklead",
        "junk",
        "lostlead",
        "lost",
    ),
}
CONVERTED_STATUSES = {"converted", "closedconverted"}


def lead_status(raw: str, labels: Mapping[str, str]) -> str | None:
    """The lead status a cell names (a code, a label in the user's language, or another CRM's
    status), or None."""
    key = header_key(raw)
    for code, label in labels.items():
        if key in (header_key(code), header_key(label)):
            return code
    for code, names in _LEAD_STATUSES.items():
        if key in names:
            return code
    return None


def split_references(raw: str, *, commas: bool) -> list[str]:
    """The items of a cell that lists several ("a@x.com; b@y.com"), without blanks or repeats."""
    separators = "[;\n" + (",]" if commas else "]")
    items = [item.strip() for item in re.split(separators, raw)]
    return list(dict.fromkeys(item for item in items if item))


_EMBEDDED_EMAIL = re.compile(r"[<(]\s*([^<>()\s]+@[^<>()\s]+)\s*[>)]")


def embedded_email(raw: str) -> str:
    """The email in a reference such as "Ana García (ana@garcia.es)" or "Ana <ana@x.es>"."""
    match = _EMBEDDED_EMAIL.search(raw)
    return match.group(1) if match else ""


# --- a new custom field from a column ------------------------------------------------------

_BOOLEANS = {"true", "false", "yes", "no", "1", "0", "on", "off"}
_INTEGER = re.compile(r"^-?\d{1,15}$")
_DECIMAL = re.compile(r"^-?\d{1,15}\.\d+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^(https?://|www\.)\S+$", re.IGNORECASE)
SELECT_MAX_OPTIONS = 20


def guess_field_type(values: Sequence[str], date_format: str) -> str:
    """The custom field type a column's example values suggest; text when unsure."""
    cells = [value.strip() for value in values if value.strip()]
    if not cells:
        return "text"

    def every(test: Any) -> bool:
        return all(test(cell) for cell in cells)

    def is_date(cell: str) -> bool:
        try:
            parse_date(cell, date_format)
        except ValueError:
            return False
        return True

    if every(lambda cell: cell.lower() in _BOOLEANS) and not every(_INTEGER.match):
        return "boolean"
    if every(_INTEGER.match):
        return "number"
    if every(lambda cell: _INTEGER.match(cell) or _DECIMAL.match(cell)):
        return "decimal"
    if every(is_date):
        return "date"
    if every(_EMAIL.match):
        return "email"
    if every(_URL.match):
        return "url"
    if any(len(cell) > 200 for cell in cells):
        return "long_text"
    distinct = set(cells)
    if len(cells) >= 3 and len(distinct) <= min(SELECT_MAX_OPTIONS, len(cells) - 1):
        return "select"
    return "text"


def column_options(values: Sequence[str]) -> list[str]:
    """A select's options from a column's example values, in their first order."""
    return list(dict.fromkeys(v.strip()[:100] for v in values if v.strip()))[:SELECT_MAX_OPTIONS]


# --- one row --------------------------------------------------------------------------------


@dataclass
class RowValues:
    """The non-empty cells of a row by target, and the problems found before any service
    saw them (column name, reason)."""

    values: dict[str, str]
    problems: list[tuple[str, str]]


def row_values(
    *, mapping: Mapping[str, str], headers: Sequence[str], row: Sequence[str]
) -> RowValues:
    problems: list[tuple[str, str]] = []
    if len(row) > len(headers) and any(cell.strip() for cell in row[len(headers) :]):
        problems.append(
            (
                "",
                _("The row has %(cells)d cells but the header only %(columns)d columns.")
                % {"cells": len(row), "columns": len(headers)},
            )
        )
    values: dict[str, str] = {}
    for index_text, target in mapping.items():
        index = int(index_text)
        cell = row[index].strip() if index < len(row) else ""
        if cell:
            values[target] = cell
    return RowValues(values=values, problems=problems)


def split_full_name(full: str) -> tuple[str, str]:
    parts = full.split()
    if len(parts) <= 1:
        return full, ""
    return " ".join(parts[:-1]), parts[-1]


def company_size(raw: str) -> str:
    """A number of employees becomes the size band; a band is kept as written."""
    digits = raw.replace(",", "").replace(" ", "").replace(".", "")
    if not digits.isdigit():
        return raw
    count = int(digits)
    for limit, band in ((10, "1-10"), (50, "11-50"), (200, "51-200"), (1000, "201-1000")):
        if count <= limit:
            return band
    return "1001+"

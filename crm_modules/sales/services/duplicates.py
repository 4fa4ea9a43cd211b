"""Likely duplicates of contacts and companies (ADR 0018).

A record is a likely duplicate of another when they share an email address (any of a contact's
addresses), a phone number in E.164, a company domain, or when their names are similar by
trigram similarity. Names are compared as lower-case ASCII transliterations (``anyascii``), so
"Анна Иванова" meets "Anna Ivanova" and "王芳" meets "Wang Fang". Where ``pg_trgm`` is missing
(the embedded server of ``make run``) names only match when their keys are equal.

``contact_duplicates`` / ``company_duplicates`` answer the check before a record is saved;
``duplicates_scan`` finds every group in the workspace, set-based in SQL, for the scan page;
it compares similar names only within blocks (ADR 0079).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from anyascii import anyascii
from django.contrib.postgres.lookups import TrigramSimilar
from django.contrib.postgres.search import TrigramSimilarity
from django.db import connection, transaction
from django.db.models import F, Model, Q, Value
from django.utils.translation import gettext_lazy as _

from crm_modules.sales.models import (
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    DuplicateGroup,
)
from crm_modules.sales.services import checks
from crm_platform.errors import ServiceError
from crm_platform.indexes import trigram_available

# How sure a reason makes us that two records are one (0-100).
CONFIDENCE = {"email": 95, "phone": 85, "domain": 80, "name": 70}
REASON_LABELS = {
    "email": _("Same email"),
    "phone": _("Same phone"),
    "domain": _("Same domain"),
    "name": _("Similar name"),
}
# Names at least this similar (pg_trgm similarity, 0 to 1) are likely the same.
NAME_SIMILARITY = 0.55
MAX_MATCHES = 10
# Words that say what kind of company it is, not which one.
_LEGAL_FORMS = frozenset(
    re.findall(
        r"\w+",
        "inc incorporated llc ltd limited gmbh ag sa sas sarl srl spa bv nv plc corp corporation "
        "co company oy ab as kk ooo oao zao pao ao tov pte pty",
    )
)
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def _ascii_words(text: str) -> list[str]:
    return [word for word in _NOT_WORD.split(anyascii(text or "").lower()) if word]


def contact_name_key(first_name: str, last_name: str) -> str:
    """Each name part as one ASCII word, in sorted order: the order in which a person's names
    were written (family name first in Chinese, say) does not matter."""
    parts = ["".join(_ascii_words(part)) for part in (first_name, last_name)]
    return " ".join(sorted(part for part in parts if part))[:400]


def company_name_key(name: str) -> str:
    words = [word for word in _ascii_words(name) if word not in _LEGAL_FORMS]
    return " ".join(words or _ascii_words(name))[:400]


@dataclass
class Match:
    record: Model
    reasons: list[str] = field(default_factory=list)
    confidence: int = 0

    @property
    def reason_labels(self) -> list[str]:
        return [str(REASON_LABELS[reason]) for reason in self.reasons]


def _merge_into(found: dict[int, Match], records: Iterable[Model], reason: str) -> None:
    for record in records:
        match = found.setdefault(int(record.pk), Match(record=record))
        if reason not in match.reasons:
            match.reasons.append(reason)


def _ranked(found: dict[int, Match]) -> list[Match]:
    for match in found.values():
        best = max(CONFIDENCE[reason] for reason in match.reasons)
        # Each further reason makes it surer, never past 100.
        match.confidence = min(100, best + 5 * (len(match.reasons) - 1))
    ranked = sorted(found.values(), key=lambda m: (-m.confidence, -int(m.record.pk)))
    return ranked[:MAX_MATCHES]


def _similar_names(model: type[Contact] | type[Company], key: str, exclude: Q) -> list[Any]:
    if not key:
        return []
    queryset = model.objects.exclude(exclude)
    if not trigram_available():
        return list(queryset.filter(name_key=key)[:MAX_MATCHES])
    # ``%`` (trigram_similar) is served by the GIN index on name_key. Its threshold is raised
    # for this transaction to the one we keep: the index then hands over a few candidates
    # instead of every name sharing a common trigram (4x faster at 200,000 contacts).
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pg_trgm.similarity_threshold', %s, true)", [str(NAME_SIMILARITY)]
        )
        return list(
            queryset.filter(TrigramSimilar(F("name_key"), Value(key)))
            .annotate(similarity=TrigramSimilarity("name_key", key))
            .filter(similarity__gte=NAME_SIMILARITY)
            .order_by("-similarity", "-id")[:MAX_MATCHES]
        )


def _valid_emails(emails: Sequence[Any]) -> list[str]:
    found = []
    for item in emails:
        raw = item.get("email", "") if isinstance(item, dict) else getattr(item, "email", item)
        address = (raw or "").strip().lower() if isinstance(raw, str) else ""
        if "@" in address:
            found.append(address)
    return found


def _valid_phones(phones: Sequence[Any], region: str | None) -> list[str]:
    found = []
    for raw in phones:
        try:
            found.append(checks.check_phone(raw if isinstance(raw, str) else "", region=region))
        except ServiceError:
            continue  # the create itself names a bad number; here it just finds nothing
    return found


# The check in one round trip (ADR 0064, ADR 0079): the contacts sharing an email or a phone
# and the ten most similar names, as (reason, similarity, the contact's columns) rows. Names are
# searched in the narrow table of name keys, never in the contact table. The threshold of ``%``
# is raised first, for this transaction, so the trigram index hands over only names that may be
# similar enough; at that threshold ``%`` is the similarity test itself, so the name rows need
# no second filter. The ten or so contacts found are joined in the same statement (by primary
# key), in the order the name query ranked them.
_CONTACT_CHECK = """
SELECT set_config('pg_trgm.similarity_threshold', %(threshold)s, true);
SELECT hit.reason, hit.similarity, {columns} FROM (
    SELECT DISTINCT e.contact_id AS id, 'email' AS reason, NULL::real AS similarity
    FROM sales_contactemail e WHERE e.email = ANY(%(emails)s::text[])
    UNION ALL
    SELECT DISTINCT p.contact_id, 'phone', NULL::real
    FROM sales_contactphone p WHERE p.number = ANY(%(phones)s::text[])
    UNION ALL
    SELECT n.contact_id, 'name', n.similarity FROM (
        SELECT k.contact_id, similarity(k.name_key, %(key)s) AS similarity
        FROM sales_contactnamekey k
        WHERE %(key)s <> '' AND k.name_key %% %(key)s
        ORDER BY similarity DESC, k.contact_id DESC
        LIMIT %(limit)s
    ) AS n
) AS hit
JOIN sales_contact AS c ON c.id = hit.id
WHERE NOT hit.id = ANY(%(exclude)s::bigint[])
ORDER BY hit.similarity DESC NULLS FIRST, hit.id DESC
"""


@cache
def _contact_check_sql() -> str:
    columns = ", ".join(
        f"c.{connection.ops.quote_name(str(f.column))}" for f in Contact._meta.concrete_fields
    )
    return _CONTACT_CHECK.format(columns=columns)


def _contact_hits(
    *, addresses: list[str], numbers: list[str], key: str, exclude_ids: list[int]
) -> list[tuple[Contact, str, float | None]]:
    params: dict[str, Any] = {
        "threshold": str(NAME_SIMILARITY),
        "emails": addresses,
        "phones": numbers,
        "key": key,
        "limit": MAX_MATCHES + len(exclude_ids),
        "exclude": exclude_ids,
    }
    # In autocommit the statements of one query string are one transaction, so the threshold
    # set by the first (``set_config(…, true)``) holds for the second and ends with it.
    with connection.cursor() as cursor:
        cursor.execute(_contact_check_sql(), params)
        cursor.nextset()  # past set_config's row
        rows = cursor.fetchall()
    fields = [f.attname for f in Contact._meta.concrete_fields]
    records: dict[int, Contact] = {}
    hits = []
    for reason, similarity, *values in rows:
        record = Contact.from_db(connection.alias, fields, values)
        record = records.setdefault(int(record.pk), record)
        hits.append((record, str(reason), similarity))
    # Excluded records may have taken places among the most similar names: keep the first ten
    # of the others, in the order the name query ranked them.
    names = [hit for hit in hits if hit[1] == "name"][:MAX_MATCHES]
    return [hit for hit in hits if hit[1] != "name"] + names


def contact_duplicates(
    *,
    first_name: str = "",
    last_name: str = "",
    emails: Sequence[Any] = (),
    phones: Sequence[Any] = (),
    phone_region: str | None = None,
    exclude_ids: Sequence[int] = (),
) -> list[Match]:
    """Contacts that are likely the person described, surest first (at most 10)."""
    addresses = _valid_emails(emails)
    numbers = _valid_phones(phones, phone_region)
    key = contact_name_key(first_name, last_name)
    if not trigram_available():
        return _contact_duplicates_orm(addresses, numbers, key, exclude_ids)
    hits = _contact_hits(
        addresses=addresses, numbers=numbers, key=key, exclude_ids=[int(i) for i in exclude_ids]
    )
    found: dict[int, Match] = {}
    for reason in ("email", "phone", "name"):
        for record, hit_reason, similarity in hits:
            if hit_reason == reason:
                if similarity is not None:
                    record.similarity = similarity  # type: ignore[attr-defined]
                _merge_into(found, [record], reason)
    return _ranked(found)


def _contact_duplicates_orm(
    addresses: list[str], numbers: list[str], key: str, exclude_ids: Sequence[int]
) -> list[Match]:
    """The check where pg_trgm is missing: names only match when their keys are equal."""
    exclude = Q(pk__in=list(exclude_ids))
    found: dict[int, Match] = {}
    if addresses:
        by_email = ContactEmail.objects.filter(email__in=addresses).values("contact_id")
        _merge_into(found, Contact.objects.filter(pk__in=by_email).exclude(exclude), "email")
    if numbers:
        by_phone = ContactPhone.objects.filter(number__in=numbers).values("contact_id")
        _merge_into(found, Contact.objects.filter(pk__in=by_phone).exclude(exclude), "phone")
    _merge_into(found, _similar_names(Contact, key, exclude), "name")
    return _ranked(found)


def company_duplicates(
    *, name: str = "", domain: str = "", exclude_ids: Sequence[int] = ()
) -> list[Match]:
    """Companies that are likely the one described, surest first (at most 10)."""
    exclude = Q(pk__in=list(exclude_ids))
    found: dict[int, Match] = {}
    try:
        clean_domain = checks.check_domain(domain or "")
    except ServiceError:
        clean_domain = ""
    if clean_domain:
        _merge_into(
            found,
            Company.objects.filter(domain=clean_domain).exclude(exclude)[:MAX_MATCHES],
            "domain",
        )
    _merge_into(found, _similar_names(Company, company_name_key(name), exclude), "name")
    return _ranked(found)


# --- the workspace-wide scan ------------------------------------------------------------------

# A name, email, phone or domain shared by more records than this says nothing about who is who
# (a placeholder such as "test", a switchboard number): it makes no group.
MOST_ALIKE = 50
# Each query yields groups of ids that share one thing.
_SAME = {
    "contact": {
        "email": (
            "SELECT array_agg(DISTINCT contact_id) FROM sales_contactemail "
            "GROUP BY email HAVING count(DISTINCT contact_id) BETWEEN 2 AND %(most)s"
        ),
        "phone": (
            "SELECT array_agg(DISTINCT contact_id) FROM sales_contactphone "
            "GROUP BY number HAVING count(DISTINCT contact_id) BETWEEN 2 AND %(most)s"
        ),
        "name": (
            "SELECT array_agg(contact_id) FROM sales_contactnamekey WHERE name_key <> '' "
            "GROUP BY name_key HAVING count(*) BETWEEN 2 AND %(most)s"
        ),
    },
    "company": {
        "domain": (
            "SELECT array_agg(id) FROM sales_company WHERE domain <> '' "
            "GROUP BY domain HAVING count(*) BETWEEN 2 AND %(most)s"
        ),
        "name": (
            "SELECT array_agg(id) FROM sales_company WHERE name_key <> '' "
            "GROUP BY name_key HAVING count(*) BETWEEN 2 AND %(most)s"
        ),
    },
}
# Where each entity's name keys are.
_TABLES = {"contact": ("sales_contactnamekey", "contact_id"), "company": ("sales_company", "id")}

# Similar names are found by blocking (ADR 0079), never by joining every name to every other:
# each distinct name key (with one of its records' ids) goes into blocks — one per word of the
# key, sorted by the key's other words, and two holding every key, sorted by the key and by the
# key read backwards — and is compared with the next ``window`` keys of each of its blocks.
# A block of any size costs ``window`` comparisons per key, so a workspace full of "John
# Smith"s and "Maria …"s costs no more per name than a small one. The blocks are compared in
# batches, each one statement, so the scan reports its progress.
SCAN_WINDOW = 10
SCAN_BATCHES = 16
_SCAN_DROP = "DROP TABLE IF EXISTS pg_temp.dedupe_scan_key, pg_temp.dedupe_scan_block"
_SCAN_KEYS = """
CREATE TEMPORARY TABLE dedupe_scan_key ON COMMIT DROP AS
SELECT name_key AS key, min({id}) AS id FROM {table} WHERE name_key <> ''
GROUP BY name_key HAVING count(*) <= %(most)s
"""
# Words are letters and digits (``_ascii_words``), so the blocks '' and '-' hold every key.
_SCAN_BLOCKS = """
CREATE TEMPORARY TABLE dedupe_scan_block ON COMMIT DROP AS
SELECT b.*, abs(hashtext(b.block)) %% %(batches)s AS batch FROM (
    SELECT '' AS block, key AS sort, key, id FROM dedupe_scan_key
    UNION ALL
    SELECT '-', reverse(key), key, id FROM dedupe_scan_key
    UNION ALL
    SELECT w.word, array_to_string(k.words[:w.n - 1] || k.words[w.n + 1:], ' '), k.key, k.id
    FROM (SELECT key, id, string_to_array(key, ' ') AS words FROM dedupe_scan_key) AS k
    CROSS JOIN LATERAL unnest(k.words) WITH ORDINALITY AS w(word, n)
    WHERE cardinality(k.words) > 1
) AS b;
CREATE INDEX ON dedupe_scan_block (batch);
ANALYZE dedupe_scan_block;
"""
_SCAN_PAIRS = """
SELECT id, alike FROM (
    SELECT id, array_remove(ARRAY[{similar}], NULL) AS alike FROM (
        SELECT key, id, {leads} FROM dedupe_scan_block WHERE batch = %(batch)s
        WINDOW next AS (PARTITION BY block ORDER BY sort, key)
    ) AS n
) AS s
WHERE cardinality(alike) > 0
"""


def _scan_pairs_sql(window: int) -> str:
    """One row per key of a block whose next ``window`` keys in the block include similar ones:
    its id and theirs. The neighbours are ``lead`` columns compared in plain expressions, so
    each key costs ``window`` similarity calls and no subquery."""
    steps = range(1, window + 1)
    leads = ", ".join(
        f"lead(key, {j}) OVER next AS key{j}, lead(id, {j}) OVER next AS id{j}" for j in steps
    )
    similar = ", ".join(
        f"CASE WHEN key{j} <> key AND similarity(key, key{j}) >= %(threshold)s THEN id{j} END"
        for j in steps
    )
    return _SCAN_PAIRS.format(similar=similar, leads=leads)


logger = logging.getLogger(__name__)


class _Groups:
    """Union-find over record ids, remembering why records were joined and how many each group
    holds."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.size: dict[int, int] = {}
        self.reasons: dict[int, set[str]] = {}

    def find(self, item: int) -> int:
        root = self.parent.setdefault(item, item)
        while root != self.parent[root]:
            root = self.parent[root]
        while item != root:
            item, self.parent[item] = self.parent[item], root
        return root

    def _union(self, first: int, root: int, most: int | None) -> int:
        """The root of the two groups joined, or ``first`` alone when they would hold more than
        ``most`` records."""
        if root == first:
            return first
        together = self.size.get(first, 1) + self.size.get(root, 1)
        if most is not None and together > most:
            return first
        self.reasons.setdefault(first, set()).update(self.reasons.pop(root, set()))
        self.parent[root] = first
        self.size[first] = together
        self.size.pop(root, None)
        return first

    def join(self, ids: Sequence[int], reason: str, *, most: int | None = None) -> None:
        """Put ``ids`` in one group for ``reason``; with ``most``, a group never grows past that
        many records: an id whose group would make it larger stays apart."""
        first = self.find(ids[0])
        joined = False
        for other in ids[1:]:
            root = self.find(other)
            if self._union(first, root, most) == first and self.parent[root] == first:
                joined = True
        if joined or most is None:
            self.reasons.setdefault(first, set()).add(reason)

    def groups(self) -> list[tuple[list[int], set[str]]]:
        members: dict[int, list[int]] = {}
        for item in self.parent:
            members.setdefault(self.find(item), []).append(item)
        return [(sorted(ids), self.reasons.get(root, set())) for root, ids in members.items()]


def _similar_name_rows(cursor: Any, entity: str, window: int) -> Iterator[tuple[int, list[int]]]:
    """Each record whose name key is similar to others of its blocks, with one record of each
    of those keys, block batch by block batch; read through a server-side cursor, so memory
    holds one chunk of rows. Records of the same key are grouped by the equal-key query."""
    table, id_column = _TABLES[entity]
    params = {"most": MOST_ALIKE, "batches": SCAN_BATCHES, "window": window}
    cursor.execute(_SCAN_DROP)
    cursor.execute(_SCAN_KEYS.format(table=table, id=id_column), params)
    cursor.execute(_SCAN_BLOCKS, params)
    for batch in range(SCAN_BATCHES):
        found = 0
        with connection.connection.cursor(name="duplicates_scan") as rows:
            rows.execute(
                _scan_pairs_sql(window), {**params, "batch": batch, "threshold": NAME_SIMILARITY}
            )
            while chunk := rows.fetchmany(5000):
                found += len(chunk)
                yield from chunk
        logger.info(
            "duplicate scan of %ss: name block batch %d of %d done, %d names with similar ones",
            entity,
            batch + 1,
            SCAN_BATCHES,
            found,
        )
    cursor.execute(_SCAN_DROP)


def duplicates_scan(*, entity: str, window: int = SCAN_WINDOW) -> int:
    """Find every group of likely duplicates of ``entity`` ("contact" or "company") and replace
    the stored groups with them. Returns the number of groups. ``window``: how many neighbours
    of each name in each of its blocks it is compared with (ADR 0079)."""
    if entity not in _SAME:
        raise ServiceError(_("Choose contacts or companies."), field="entity")
    groups = _Groups()
    with transaction.atomic(), connection.cursor() as cursor:
        for reason, query in _SAME[entity].items():
            cursor.execute(query, {"most": MOST_ALIKE})
            for (ids,) in cursor.fetchall():
                groups.join(ids, reason)
        if trigram_available():
            for pk, similar in _similar_name_rows(cursor, entity, window):
                groups.join([pk, *similar], "name", most=MOST_ALIKE)
    rows = []
    for ids, reasons in groups.groups():
        if len(ids) < 2:
            continue
        best = max(CONFIDENCE[reason] for reason in reasons)
        confidence = min(100, best + 5 * (len(reasons) - 1))
        rows.append(
            DuplicateGroup(
                entity=entity,
                record_ids=ids,
                confidence=confidence,
                reasons=sorted(reasons, key=lambda r: -CONFIDENCE[r]),
            )
        )
    with transaction.atomic():
        DuplicateGroup.objects.filter(entity=entity).delete()
        DuplicateGroup.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def duplicate_group_forget(*, entity: str, record_ids: Iterable[int]) -> None:
    """Drop stored groups that contain any of ``record_ids`` (after a merge)."""
    DuplicateGroup.objects.filter(entity=entity, record_ids__overlap=list(record_ids)).delete()

"""The interface is available in every language of settings.LANGUAGES.

The catalogs under locale/ are complete, compiled and safe to format; the public site follows the
browser's Accept-Language, the footer switcher changes it, and a member's own language choice
wins inside a workspace.
"""

from __future__ import annotations

import re
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from tenants.models import User
from tenants.roles import Role
from tenants.selectors import seats_used
from tests.conftest import Workspace, public_client, workspace_client

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
# Directory name under locale/ -> expected number of plural forms (CLDR integer rules).
CATALOGS = {"ru": 3, "it": 2, "th": 1, "zh_Hans": 1}
SOURCE_ROOTS = ("tenants/", "crm_platform/", "billing/", "frontend/templates/")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)
    obsolete: bool = False


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(text: str) -> str:
    body = text.strip()
    if not (body.startswith('"') and body.endswith('"')):
        raise ValueError(f"not a quoted .po string: {text!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES[m.group(1)], body[1:-1])


def parse_po(path: Path) -> list[Entry]:
    """Entries of a .po file, header included (msgid ""). Enough of the format for our catalogs:
    comments, flags, references, msgid/msgid_plural/msgstr[n] and continuation lines."""
    entries: list[Entry] = []
    current = Entry()
    target: tuple[str, int] | None = None
    started = False

    def finish() -> None:
        nonlocal current, started, target
        if started:
            entries.append(current)
        current, started, target = Entry(), False, None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            current.obsolete = True
            continue
        if line.startswith("#,"):
            current.flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            continue
        if line.startswith("#:"):
            current.references += line[2:].split()
            continue
        if line.startswith("#"):
            continue
        keyword = re.match(r"(msgid_plural|msgid|msgstr\[(\d+)\]|msgstr)\s", line)
        if keyword is not None:
            started = True
            name = keyword.group(1)
            if name.startswith("msgstr["):
                target = ("msgstr", int(keyword.group(2)))
            elif name == "msgstr":
                target = ("msgstr", 0)
            else:
                target = (name, 0)
            _append(current, target, _unquote(line[keyword.end() :]))
        elif line.startswith('"') and target is not None:
            _append(current, target, _unquote(line))
        else:
            raise ValueError(f"{path}: unexpected line {raw!r}")
    finish()
    return entries


def _append(entry: Entry, target: tuple[str, int], text: str) -> None:
    name, index = target
    if name == "msgid":
        entry.msgid += text
    elif name == "msgid_plural":
        entry.msgid_plural = (entry.msgid_plural or "") + text
    else:
        entry.msgstr[index] = entry.msgstr.get(index, "") + text


def read_mo(path: Path) -> dict[str, str]:
    """The compiled catalog as msgfmt wrote it: original -> translation, plural forms joined
    by NUL as in the GNU .mo format."""
    data = path.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == 0x950412DE else ">"
    _, count, originals_at, translations_at = struct.unpack(order + "4I", data[4:20])
    catalog = {}
    for i in range(count):
        length, offset = struct.unpack_from(order + "2I", data, originals_at + 8 * i)
        original = data[offset : offset + length].decode("utf-8")
        length, offset = struct.unpack_from(order + "2I", data, translations_at + 8 * i)
        catalog[original] = data[offset : offset + length].decode("utf-8")
    return catalog


def catalog_entries(language: str) -> list[Entry]:
    entries = parse_po(LOCALE_DIR / language / "LC_MESSAGES" / "django.po")
    return [entry for entry in entries if entry.msgid and not entry.obsolete]


def header(language: str) -> Entry:
    entries = parse_po(LOCALE_DIR / language / "LC_MESSAGES" / "django.po")
    return next(entry for entry in entries if entry.msgid == "" and not entry.obsolete)


# --- (a) complete, not fuzzy, compiled ------------------------------------------------------


def test_catalogs_exist_for_every_language_but_english():
    codes = {code for code, _ in settings.LANGUAGES} - {"en"}
    assert {translation.to_locale(code) for code in codes} == set(CATALOGS)
    for language in CATALOGS:
        assert (LOCALE_DIR / language / "LC_MESSAGES" / "django.po").is_file()
        assert (LOCALE_DIR / language / "LC_MESSAGES" / "django.mo").is_file()


@pytest.mark.parametrize("language", CATALOGS)
def test_every_message_is_translated_and_none_is_fuzzy(language):
    head = header(language)
    assert "fuzzy" not in head.flags
    assert f"Language: {language}\n" in head.msgstr[0]
    assert f"Plural-Forms: nplurals={CATALOGS[language]};" in head.msgstr[0]

    entries = catalog_entries(language)
    assert len(entries) > 200
    assert [e.msgid for e in entries if "fuzzy" in e.flags] == []
    untranslated = [
        e.msgid
        for e in entries
        if not e.msgstr or any(not text.strip() for text in e.msgstr.values())
    ]
    assert untranslated == []
    plurals = [e for e in entries if e.msgid_plural is not None]
    assert plurals, "the catalog has no plural entry to check"
    for entry in plurals:
        assert sorted(entry.msgstr) == list(range(CATALOGS[language])), entry.msgid


@pytest.mark.parametrize("language", CATALOGS)
def test_catalog_covers_our_apps_and_templates(language):
    sources = {ref.rsplit(":", 1)[0] for e in catalog_entries(language) for ref in e.references}
    for root in SOURCE_ROOTS:
        assert any(source.startswith(root) for source in sources), root
    assert not any(source.startswith((".venv", "tests/")) for source in sources)


@pytest.mark.parametrize("language", CATALOGS)
def test_compiled_catalog_matches_its_source(language):
    """Compare contents rather than file times: a fresh clone gives both files the checkout
    time in an arbitrary order, while a stale .mo always differs in content."""
    expected = {"": header(language).msgstr[0]}
    for entry in catalog_entries(language):
        if entry.msgid_plural is None:
            expected[entry.msgid] = entry.msgstr[0]
        else:
            key = f"{entry.msgid}\x00{entry.msgid_plural}"
            expected[key] = "\x00".join(entry.msgstr[i] for i in sorted(entry.msgstr))
    compiled = read_mo(LOCALE_DIR / language / "LC_MESSAGES" / "django.mo")
    compiled.pop("", None)
    expected.pop("")
    assert compiled == expected


# --- (b) placeholders ------------------------------------------------------------------------

PLACEHOLDER = re.compile(
    r"%%"
    r"|%\((?P<named>[A-Za-z_]\w*)\)[#0 +-]*\d*(?:\.\d+)?[sdifrxX]"
    r"|(?P<positional>%[#0 +-]*\d*(?:\.\d+)?[sdifrxX])"
    r"|\{\{\s*(?P<variable>[^}]+?)\s*\}\}"
)


def placeholders(text: str) -> Counter[str]:
    """Named placeholders and template variables count once (a translation may repeat or
    reorder them); positional ones and literal %% must match in number."""
    found: Counter[str] = Counter()
    for match in PLACEHOLDER.finditer(text):
        if match.group("named"):
            found[f"%({match.group('named')})"] = 1
        elif match.group("variable"):
            found["{{ " + match.group("variable") + " }}"] = 1
        elif match.group("positional"):
            found[match.group("positional")] += 1
        else:
            found["%%"] += 1
    return found


class _AnyValue(dict[str, int]):
    def __missing__(self, key: str) -> int:
        return 7


def test_placeholder_extraction_sees_every_kind():
    assert placeholders("%(a)s of %(b)d, %s and %% and {{ c }} and %(a)s") == Counter(
        {"%(a)": 1, "%(b)": 1, "%s": 1, "%%": 1, "{{ c }}": 1}
    )
    assert placeholders("Your role is now %%s") == Counter({"%%": 1})


@pytest.mark.parametrize("language", CATALOGS)
def test_translations_keep_the_placeholders_of_the_original(language):
    mismatched = []
    for entry in catalog_entries(language):
        original = placeholders(entry.msgid_plural or entry.msgid)
        for index, text in entry.msgstr.items():
            if placeholders(text) != original:
                mismatched.append((entry.msgid, index, text))
    assert mismatched == []


@pytest.mark.parametrize("language", CATALOGS)
def test_python_format_translations_format_without_error(language):
    for entry in catalog_entries(language):
        if "python-format" not in entry.flags:
            continue
        for text in entry.msgstr.values():
            positional = sum(
                count
                for token, count in placeholders(text).items()
                if token.startswith("%") and not token.startswith(("%(", "%%"))
            )
            values: tuple[int, ...] | dict[str, int] = (
                (7,) * positional if positional else _AnyValue()
            )
            # Raises on a stray % or a conversion that does not fit the value.
            formatted = text % values
            assert "%(" not in formatted, (entry.msgid, text)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1, "остался 1 день"),
        (2, "осталось 2 дня"),
        (4, "осталось 4 дня"),
        (5, "осталось 5 дней"),
        (11, "осталось 11 дней"),
        (14, "осталось 14 дней"),
        (21, "остался 21 день"),
        (22, "осталось 22 дня"),
        (111, "осталось 111 дней"),
    ],
)
def test_russian_uses_its_three_plural_forms(number, expected):
    with translation.override("ru"):
        text = translation.ngettext("%(days)s day left", "%(days)s days left", number)
    assert text % {"days": number} == expected


def test_languages_with_one_plural_form_use_it_for_every_number():
    for language, expected in (("th", "เหลืออีก {} วัน"), ("zh-hans", "还剩 {} 天")):
        with translation.override(language):
            for number in (1, 2, 5):
                text = translation.ngettext("%(days)s day left", "%(days)s days left", number)
                assert text % {"days": number} == expected.format(number)


# --- (c) the public site in the browser's language -------------------------------------------

# Strings written for each catalog, as they appear in the HTML (none needs escaping).
PUBLIC: dict[str, dict[str, list[str]]] = {
    "ru": {
        "pricing": [
            "<h1>Тарифы</h1>",
            "Попробовать бесплатно",
            "за место в месяц",
            "<h2>Стартовый</h2>",
        ],
        "signup": [
            "<h1>Начните бесплатный пробный период</h1>",
            "Название компании",
            "Рабочая эл. почта",
            "От 3 до 30 строчных латинских букв, цифр или дефисов.",
        ],
    },
    "it": {
        "pricing": [
            "<h1>Prezzi</h1>",
            "Inizia la prova gratuita",
            "per licenza / mese",
            "<h2>Professionale</h2>",
        ],
        "signup": [
            "<h1>Inizi la sua prova gratuita</h1>",
            "Email di lavoro",
            "Nome e cognome",
            "Crea area di lavoro",
        ],
    },
    "th": {
        "pricing": ["<h1>ราคา</h1>", "เริ่มทดลองใช้ฟรี", "ต่อที่นั่ง / เดือน", "<h2>องค์กร</h2>"],
        "signup": [
            "<h1>เริ่มต้นทดลองใช้งานฟรี</h1>",
            "ชื่อบริษัท",
            "อีเมลที่ทำงาน",
            "สร้างเวิร์กสเปซ",
        ],
    },
    "zh-hans": {
        "pricing": ["<h1>价格</h1>", "开始免费试用", "每席位 / 月", "<h2>专业版</h2>"],
        "signup": ["<h1>开始您的免费试用</h1>", "公司名称", "工作邮箱", "创建工作区"],
    },
}
ENGLISH_ONLY = ["Start free trial", "per seat / month", "Start your free trial", "Company name"]


@pytest.mark.parametrize("language", PUBLIC)
def test_pricing_page_follows_accept_language(world, db, language):
    response = public_client().get("/pricing/", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 200
    assert response["Content-Language"] == language
    body = response.content.decode()
    assert f'<html lang="{language}">' in body
    for text in PUBLIC[language]["pricing"]:
        assert text in body, text
    for text in ENGLISH_ONLY[:2]:
        assert text not in body


@pytest.mark.parametrize("language", PUBLIC)
def test_signup_page_follows_accept_language(world, db, language):
    response = public_client().get("/signup/", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 200
    assert response["Content-Language"] == language
    body = response.content.decode()
    for text in PUBLIC[language]["signup"]:
        assert text in body, text
    for text in ENGLISH_ONLY[2:]:
        assert text not in body


def test_unsupported_browser_language_gets_english(world, db):
    response = public_client().get("/pricing/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")

    assert response["Content-Language"] == "en"
    body = response.content.decode()
    assert "<h1>Pricing</h1>" in body
    assert "Start free trial" in body


def test_chinese_browser_variants_get_simplified_chinese(world, db):
    response = public_client().get("/pricing/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")

    assert response["Content-Language"] == "zh-hans"
    assert "<h1>价格</h1>" in response.content.decode()


# --- (d) the footer switcher -----------------------------------------------------------------

FOOTER_FORM = re.compile(r'<form class="language-form"[^>]*action="([^"]+)".*?</form>', re.S)


def _footer(body: str) -> tuple[str, str]:
    match = FOOTER_FORM.search(body)
    assert match is not None, "no language switcher on the page"
    return match.group(1), match.group(0)


def test_footer_lists_every_language_in_its_own_name_with_the_current_one_selected(world, db):
    body = public_client().get("/pricing/?plan=pro", HTTP_ACCEPT_LANGUAGE="th").content.decode()

    action, form = _footer(body)
    assert action == "/i18n/setlang/"
    assert '<label for="footer-language">ภาษา</label>' in form
    assert '<select id="footer-language" name="language">' in form
    assert '<input type="hidden" name="next" value="/pricing/?plan=pro">' in form
    options = re.findall(r'<option value="([^"]+)" lang="[^"]+"( selected)?>([^<]+)</option>', form)
    assert options == [
        ("en", "", "English"),
        ("ru", "", "Русский"),
        ("it", "", "Italiano"),
        ("th", " selected", "ภาษาไทย"),
        ("zh-hans", "", "简体中文"),
    ]
    assert '<button class="button button-sm" type="submit">เปลี่ยน</button>' in form


def test_footer_switcher_changes_the_language_of_the_next_page(world, db):
    client = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    page = client.get("/pricing/")
    assert page["Content-Language"] == "en"
    action, form = _footer(page.content.decode())
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    next_path = re.search(r'name="next" value="([^"]+)"', form)
    assert token is not None
    assert next_path is not None

    switched = client.post(
        action,
        {"csrfmiddlewaretoken": token.group(1), "language": "ru", "next": next_path.group(1)},
    )

    assert switched.status_code == 302
    assert switched["Location"] == "/pricing/"
    assert switched.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    after = client.get("/pricing/")
    assert after["Content-Language"] == "ru"
    assert "<h1>Тарифы</h1>" in after.content.decode()
    # The choice outlives the page it was made on.
    signup = client.get("/signup/")
    assert "<h1>Начните бесплатный пробный период</h1>" in signup.content.decode()


def test_switching_overrides_the_browser_language(world, db):
    client = public_client()
    client.post("/i18n/setlang/", {"language": "it", "next": "/pricing/"})

    response = client.get("/pricing/", HTTP_ACCEPT_LANGUAGE="th")

    assert response["Content-Language"] == "it"
    assert "<h1>Prezzi</h1>" in response.content.decode()


def test_switching_to_an_unsupported_language_changes_nothing(world, db):
    client = public_client()
    response = client.post("/i18n/setlang/", {"language": "de", "next": "/pricing/"})

    assert response.status_code == 302
    # Django stores any language it has a catalog for; only settings.LANGUAGES are honoured.
    after = client.get("/pricing/")
    assert after["Content-Language"] == "en"
    assert "<h1>Pricing</h1>" in after.content.decode()


def test_switcher_does_not_redirect_to_another_site(world, db):
    response = public_client().post(
        "/i18n/setlang/", {"language": "ru", "next": "https://evil.example.com/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/"


# --- (e) a member's own language inside a workspace ------------------------------------------


def _member(workspace: Workspace, role: str, *, language: str) -> User:
    # A fresh row: the session-wide fixture objects must not carry this test's change.
    User.objects.filter(pk=workspace.members[role].user_id).update(language=language)
    return User.objects.get(pk=workspace.members[role].user_id)


def test_member_with_thai_sees_the_workspace_in_thai_whatever_the_browser_says(alpha):
    user = _member(alpha, Role.SALES_REP, language="th")
    client = workspace_client(user, alpha.tenant)

    response = client.get("/", HTTP_ACCEPT_LANGUAGE="ru")

    assert response.status_code == 200
    assert response["Content-Language"] == "th"
    body = response.content.decode()
    assert '<html lang="th">' in body
    assert "<h1>ยินดีต้อนรับ " in body
    # Navigation links carry an icon before their label; the current page is marked.
    nav_link = (
        r'<a class="nav-link" href="{}" data-nav-entry="[a-z_]+"{}><svg [^>]*>.*?</svg>'
        r'<span class="nav-label">{}</span></a>'
    )
    assert re.search(nav_link.format("/", ' aria-current="page"', "หน้าแรก"), body)
    assert re.search(nav_link.format("/members/", "", "สมาชิก"), body)
    assert '<span class="role-badge" data-testid="my-role">พนักงานขาย</span>' in body
    assert "<h2>แพ็กเกจ</h2>" in body
    assert re.search(r"<p>ทดลองใช้ — เหลืออีก \d+ วัน</p>", body)
    used = seats_used(tenant=alpha.tenant)
    assert f'data-testid="seats">ใช้ไป {used} จาก {alpha.tenant.seat_limit} ที่นั่ง</p>' in body
    assert "Welcome" not in body
    assert "осталось" not in body


def test_member_without_a_language_follows_the_browser(alpha):
    user = _member(alpha, Role.MARKETER, language="")
    client = workspace_client(user, alpha.tenant)

    response = client.get("/", HTTP_ACCEPT_LANGUAGE="it")

    assert response["Content-Language"] == "it"
    body = response.content.decode()
    assert "<h1>Le diamo il benvenuto, " in body
    assert '<span class="role-badge" data-testid="my-role">Addetto marketing</span>' in body

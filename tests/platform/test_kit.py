"""The UI kit's template tags and includes (frontend/templates/kit/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django import forms
from django.conf import settings
from django.template import Context, RequestContext, Template, TemplateSyntaxError
from django.template.loader import render_to_string

from crm_platform.templatetags.kit import ICON_DIR
from tenants import navigation

KIT_DIR = Path(settings.BASE_DIR) / "frontend" / "templates" / "kit"


def render(source: str, **context: object) -> str:
    return Template("{% load kit %}" + source).render(Context(context))


def test_icon_is_inlined_hidden_from_assistive_technology():
    html = render('{% icon "house" %}')

    assert html.startswith('<svg class="icon icon-house" width="20" height="20"')
    assert 'aria-hidden="true"' in html
    assert 'focusable="false"' in html
    assert "<path " in html
    assert "license" not in html  # the file's licence comment stays in the vendored file
    assert "role=" not in html


def test_icon_with_a_label_is_announced_and_the_label_escaped():
    html = render('{% icon "x" label=name size=16 %}', name='Close "<b>"')

    assert 'role="img" aria-label="Close &quot;&lt;b&gt;&quot;"' in html
    assert 'width="16" height="16"' in html
    assert "aria-hidden" not in html


@pytest.mark.parametrize("name", ["no-such-icon", "../../settings", "House"])
def test_unknown_or_malformed_icon_names_fail_loudly(name):
    with pytest.raises(TemplateSyntaxError):
        render("{% icon name %}", name=name)


def test_every_vendored_icon_is_a_lucide_svg_and_the_licence_is_kept():
    icons = sorted(ICON_DIR.glob("*.svg"))
    assert len(icons) >= 20
    for path in icons:
        assert 'viewBox="0 0 24 24"' in path.read_text(), path.name
    licence = (ICON_DIR.parent / "LICENSE").read_text()
    assert licence.startswith("ISC License")


def test_every_icon_named_in_a_template_is_vendored():
    templates = Path(settings.BASE_DIR) / "frontend" / "templates"
    named = set()
    for path in templates.rglob("*.html"):
        named |= set(re.findall(r'{% icon "([a-z0-9-]+)"', path.read_text()))
        named |= set(re.findall(r'icon="([a-z0-9-]+)"', path.read_text()))
    # Navigation entries name theirs when they register (checked there too, at start-up).
    from_nav = {entry.icon for entry in navigation.all_entries()}
    assert {"house", "users", "shield", "settings", "scroll-text"} <= from_nav
    named |= from_nav
    missing = sorted(name for name in named if not (ICON_DIR / f"{name}.svg").is_file())
    assert missing == []


def test_every_kit_include_documents_its_parameters_at_the_top():
    includes = sorted(KIT_DIR.glob("*.html"))
    assert {p.stem for p in includes} >= {
        "page_header", "table", "filter_bar", "field", "empty_state", "badge", "toast",
        "confirm_dialog", "tabs", "sheet", "kanban_column", "kanban_card", "timeline_entry",
        "chart", "pagination", "nav",
    }  # fmt: skip
    for path in includes:
        assert path.read_text().startswith("{% comment %}\n"), path.name


def test_component_passes_the_enclosed_markup_as_body():
    html = render(
        '{% component "kit/page_header.html" title=t meta="3" %}'
        '<a href="/x">Go</a>{% endcomponent %}',
        t="Deals & <co>",
    )

    assert "<h1>Deals &amp; &lt;co&gt;</h1>" in html
    assert '<p class="page-header-meta">3</p>' in html
    assert '<div class="page-header-actions">' in html
    assert '<a href="/x">Go</a>' in html


def test_nav_marks_only_the_current_entry():
    entries = [
        {"label": "Home", "icon": "house", "url": "/", "current": False},
        {"label": "Deals <b>", "icon": "handshake", "url": "/deals/", "current": True},
    ]
    html = render_to_string("kit/nav.html", {"entries": entries, "label": "Workspace"})

    links = re.findall(r'<a class="nav-link" href="([^"]+)"([^>]*)>', html)
    assert links == [("/", ""), ("/deals/", ' aria-current="page"')]
    assert "Deals &lt;b&gt;" in html
    assert '<nav id="sidenav" class="nav" aria-label="Workspace" data-nav>' in html


class _Form(forms.Form):
    email = forms.EmailField(label="Email", help_text="Where we write to you.")
    plain = forms.CharField(label="Plain", required=False)


def test_field_ties_help_and_error_to_the_input():
    form = _Form({"email": "nope"})
    assert not form.is_valid()

    html = render_to_string("kit/field.html", {"field": form["email"]})

    assert '<label for="id_email">Email</label>' in html
    assert 'aria-describedby="id_email_help id_email_error"' in html
    assert 'aria-invalid="true"' in html
    assert '<small class="help" id="id_email_help">Where we write to you.</small>' in html
    assert '<div class="error" id="id_email_error">' in html
    assert 'class="field has-error"' in html


def test_field_without_help_or_error_points_nowhere():
    html = render_to_string("kit/field.html", {"field": _Form()["plain"]})

    assert "aria-describedby" not in html
    assert "aria-invalid" not in html
    assert 'class="field"' in html


def test_unbound_field_with_help_points_at_the_help_that_exists():
    html = render_to_string("kit/field.html", {"field": _Form()["email"]})

    assert 'aria-describedby="id_email_help"' in html
    assert 'id="id_email_help"' in html


def test_table_shows_its_empty_state_when_it_has_no_rows():
    html = render(
        '{% component "kit/table.html" columns=cols empty_title="Nothing yet" %}'
        " {% endcomponent %}",
        cols=["Name", ""],
    )

    assert '<th scope="col">Name</th>' in html
    assert '<th scope="col"><span class="sr-only">Actions</span></th>' in html
    assert '<tr class="table-empty"><td colspan="2">' in html
    assert "<h3>Nothing yet</h3>" in html


def test_confirm_dialog_names_its_target_and_cancels_without_sending():
    html = render_to_string(
        "kit/confirm_dialog.html",
        {
            "id": "deactivate-7",
            "title": "Deactivate Kai <Lee>?",
            "text": "Kai loses access.",
            "confirm_label": "Deactivate",
            "tone": "danger",
        },
    )

    assert '<dialog class="dialog dialog-danger" id="deactivate-7"' in html
    assert 'aria-labelledby="deactivate-7-title"' in html
    assert '<h2 id="deactivate-7-title">Deactivate Kai &lt;Lee&gt;?</h2>' in html
    # Cancel is not a submit button: it closes the dialog and sends nothing.
    assert re.search(
        r'<button class="button button-secondary" type="button" commandfor="deactivate-7"'
        r' command="close" data-dialog-close autofocus>',
        html,
    )
    assert re.search(r'<button class="button button-danger" type="submit" data-confirmed>', html)


def test_tabs_follow_the_aria_pattern():
    tabs = [{"key": "a", "label": "A"}, {"key": "b", "label": "B", "count": 3}]
    html = render_to_string("kit/tabs.html", {"id": "t", "label": "Sections", "tabs": tabs})

    assert 'role="tablist" aria-label="Sections"' in html
    tab = r'role="tab" id="([^"]+)" aria-controls="([^"]+)" aria-selected="(\w+)"'
    assert re.findall(tab, html) == [
        ("t-tab-a", "t-panel-a", "true"),
        ("t-tab-b", "t-panel-b", "false"),
    ]  # fmt: skip
    assert html.count('tabindex="-1"') == 1


def test_pagination_keeps_the_other_query_parameters():
    from django.core.paginator import Paginator
    from django.test import RequestFactory

    request = RequestFactory().get("/audit/", {"actor": "a&b", "page": "2"})
    page = Paginator(list(range(30)), 10).get_page(2)

    html = Template('{% include "kit/pagination.html" %}').render(
        RequestContext(request, {"page": page})
    )

    assert 'href="?actor=a%26b&amp;page=1" rel="prev"' in html
    assert 'href="?actor=a%26b&amp;page=3" rel="next"' in html
    assert "Page 2 of 3" in html


def test_component_sees_only_its_parameters_not_the_pages_variables():
    # The audit log page has a variable named ``actions``, as page_header has a parameter.
    html = render(
        '{% component "kit/page_header.html" title="Audit log" %}{% endcomponent %}',
        actions=[("member.invited", "Invited")],
    )

    assert "page-header-actions" not in html
    assert "member.invited" not in html


def test_plotly_is_served_from_the_plotly_package_and_nothing_else_of_it():
    from django.contrib.staticfiles import finders

    from crm_platform.staticfinders import PLOTLY_DIR, PackageAssetFinder

    found = finders.find("vendor/plotly/plotly.min.js")
    assert found == str(PLOTLY_DIR / "plotly.min.js")
    assert Path(found).read_text()[:200].lstrip("/* \n").startswith("plotly.js v")
    assert finders.find("vendor/plotly/widgetbundle.js") is None
    listed = [
        (path, getattr(storage, "prefix", None))
        for path, storage in PackageAssetFinder().list(None)
    ]
    assert listed == [("plotly.min.js", "vendor/plotly")]


@pytest.mark.parametrize("language", [code for code, _name in settings.LANGUAGES])
def test_choice_label_reads_as_get_display_in_every_language(language):
    from django.utils import translation

    from tenants.models import Membership
    from tenants.roles import Role

    with translation.override(language):
        for role in [*Role.values, "retired-role"]:
            member = Membership(role=role)
            html = render('{{ member|choice_label:"role" }}', member=member)
            assert html == str(member.get_role_display())
    with translation.override("ru"):
        assert render('{{ m|choice_label:"role" }}', m=Membership(role=Role.OWNER)) != "Owner"


def test_choice_label_refuses_what_is_not_a_field():
    from tenants.models import User

    with pytest.raises(TemplateSyntaxError, match="not a field"):
        render('{{ u|choice_label:"memberships" }}', u=User())

"""The living style page: every UI kit component (frontend/templates/kit/) in every state,
rendered by the same includes module pages use. Sample records are made up here; nothing is
read from or written to the workspace."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from tenants import capabilities, navigation
from tenants.access import requires
from tenants.http import WorkspaceRequest

# Sample content in the scripts our users write, deliberately not translated: the page shows
# how components cope with long words and lines in each of them.
LONG_THAI = (
    "บริษัทนำเข้าและส่งออกสินค้าเกษตรอินทรีย์แห่งประเทศไทยจำกัดมหาชนสาขากรุงเทพมหานครและปริมณฑลฝ่ายบริการลูกค้าสัมพันธ์"
)
LONG_CHINESE = (
    "上海浦东新区国际贸易与跨境电子商务综合服务有限公司华东区域客户关系管理与售后服务中心"
)
LONG_RUSSIAN = (
    "Общество с ограниченной ответственностью «Северо-Западная торгово-промышленная "  # noqa: RUF001
    "компания по производству электротехнического оборудования»"
)
UNBROKEN = "Kraftfahrzeughaftpflichtversicherungsgesellschaft1"  # 50 characters, no break


class SampleForm(forms.Form):
    """Fields in each state the kit's form field shows: help, error, required, disabled."""

    name = forms.CharField(
        label=gettext_lazy("Company name"),
        help_text=gettext_lazy("As it appears on invoices."),
        max_length=100,
    )
    email = forms.EmailField(label=gettext_lazy("Work email"))
    stage = forms.ChoiceField(
        label=gettext_lazy("Stage"),
        choices=[
            ("lead", gettext_lazy("Lead")),
            ("qualified", gettext_lazy("Qualified")),
            ("won", gettext_lazy("Won")),
        ],
    )
    notes = forms.CharField(label=gettext_lazy("Notes"), required=False, widget=forms.Textarea)
    owner = forms.CharField(
        label=gettext_lazy("Owner"),
        required=False,
        disabled=True,
        help_text=gettext_lazy("Only an admin can change the owner."),
    )
    subscribed = forms.BooleanField(
        label=gettext_lazy("Send me the monthly summary"), required=False
    )


class SampleFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False)
    stage = forms.ChoiceField(
        label=gettext_lazy("Stage"),
        required=False,
        choices=[("", "—"), ("lead", gettext_lazy("Lead")), ("won", gettext_lazy("Won"))],
    )
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


def _sample_rows() -> list[dict[str, Any]]:
    now = timezone.now()
    return [
        {
            "name": "Nadia Owner",
            "company": "Northwind Trading",
            "stage": _("Won"),
            "tone": "success",
            "amount": "12,400.00 EUR",
            "when": now - timedelta(hours=2),
        },
        {
            "name": "สมชาย ใจดี",
            "company": LONG_THAI,
            "stage": _("Qualified"),
            "tone": "info",
            "amount": "8,900.00 THB",
            "when": now - timedelta(days=1),
        },
        {
            "name": "王小明",
            "company": LONG_CHINESE,
            "stage": _("Lead"),
            "tone": "neutral",
            "amount": "56,000.00 CNY",
            "when": now - timedelta(days=3),
        },
        {
            "name": "Анна Смирнова",
            "company": LONG_RUSSIAN,
            "stage": _("Lost"),
            "tone": "danger",
            "amount": "0.00 RUB",
            "when": now - timedelta(days=9),
        },
        {
            "name": UNBROKEN,
            "company": UNBROKEN,
            "stage": _("On hold"),
            "tone": "warning",
            "amount": "1,000,000.00 USD",
            "when": now - timedelta(days=30),
        },
    ]


@requires(capabilities.USE_WORKSPACE)
@require_safe
def style_guide(request: WorkspaceRequest) -> HttpResponse:
    invalid = SampleForm(
        {"name": UNBROKEN, "email": "not-an-email", "stage": "", "owner": "Nadia Owner"}
    )
    invalid.is_valid()
    valid = SampleForm(initial={"name": LONG_RUSSIAN, "owner": "Nadia Owner", "stage": "won"})
    numbers = list(range(1, 101))
    chart_figure = {
        "data": [
            {
                "type": "bar",
                "x": [_("Lead"), _("Qualified"), _("Won")],
                "y": [42, 17, 9],
            }
        ],
        "layout": {"margin": {"t": 8, "r": 8, "b": 32, "l": 32}},
    }
    rows = _sample_rows()
    for row in rows:
        row["meta"] = [row["amount"], row["name"]]
    context = {
        "rows": rows,
        "now": timezone.now(),
        "long_thai": LONG_THAI,
        "long_chinese": LONG_CHINESE,
        "long_russian": LONG_RUSSIAN,
        "unbroken": UNBROKEN,
        "invalid_form": invalid,
        "valid_form": valid,
        "filter_empty": SampleFilterForm(),
        "filter_active": SampleFilterForm({"q": LONG_CHINESE, "stage": "won"}),
        "page_first": Paginator(numbers, 10).get_page(1),
        "page_middle": Paginator(numbers, 10).get_page(5),
        "page_last": Paginator(numbers, 10).get_page(10),
        "sample_nav": [
            dataclasses.replace(link, current=index == 1)
            for index, link in enumerate(navigation.links_for(request))
        ],
        "tabs": [
            {"key": "overview", "label": _("Overview")},
            {"key": "activity", "label": _("Activity"), "count": 12},
            {"key": "long", "label": LONG_RUSSIAN[:40]},
            {"key": "disabled", "label": _("Archived"), "disabled": True},
        ],
        "chart_figure": chart_figure,
        "chart_columns": [_("Stage"), _("Deals")],
        "chart_rows": [[_("Lead"), 42], [_("Qualified"), 17], [_("Won"), 9]],
        "kanban": [
            {"title": _("Lead"), "cards": rows[1:3], "total": "64,900.00"},
            {"title": _("Won"), "cards": rows[:1], "total": "12,400.00"},
            {"title": LONG_THAI, "cards": rows[4:], "total": ""},
            {"title": _("Lost"), "cards": [], "total": ""},
        ],
    }
    return render(request, "app/style.html", context)

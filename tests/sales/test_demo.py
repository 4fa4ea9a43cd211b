from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from crm_modules.sales.api import demo_seed
from crm_modules.sales.models import (
    Company,
    Contact,
    Deal,
    DealStageChange,
    LineItem,
    Pipeline,
    Product,
    Task,
)
from tests.conftest import Workspace


def test_demo_data_has_every_kind_of_record_in_five_scripts(alpha: Workspace) -> None:
    demo_seed(tenant=alpha.tenant)
    demo_seed(tenant=alpha.tenant)  # idempotent
    from django.db import connection

    connection.set_tenant(alpha.tenant)  # type: ignore[attr-defined]
    assert Pipeline.objects.count() == 2
    assert Company.objects.count() == 10
    assert Contact.objects.count() == 60
    assert Deal.objects.count() == 20
    assert Task.objects.count() == 30
    assert DealStageChange.objects.count() >= Deal.objects.count()
    assert Product.objects.count() == 6
    with_items = Deal.objects.filter(line_items__isnull=False).distinct()
    # Every company's first deal, and all deals of every other company.
    assert with_items.count() == 15
    for deal in with_items:
        total = LineItem.objects.filter(deal=deal).aggregate(s=Sum("total"))["s"]
        assert deal.amount == total > Decimal(0)
    names = " ".join(Contact.objects.values_list("first_name", flat=True))
    for sample in ("Emma", "Анна", "Giulia", "สมหญิง", "芳"):
        assert sample in names

"""Demo data for `make run`'s workspace: two pipelines, companies, contacts, leads, deals with
stage histories, tasks due around today and timeline entries, with names in English, Russian,
Italian, Thai and Chinese, and a catalogue of products that the deals carry as line items.
Written through the services so every derived field (search text,
company history, stage history, timeline links, audit) is real."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from crm_modules.sales import services
from crm_modules.sales.models import Pipeline
from crm_modules.sales.services import StageInput
from tenants.models import Membership, Tenant

COMPANY_NAMES = [
    ("Northwind Traders", "northwind.example.com", "+1 212 555 0100"),
    ("Ромашка", "romashka.example.ru", "+7 495 123 4567"),
    ("Ferrari Forniture", "ferrari-forniture.example.it", "+39 06 6982 1000"),
    ("สยามเทค", "siamtech.example.co.th", "+66 2 123 4567"),
    ("云图科技", "yuntu.example.cn", "+86 10 6552 9988"),
    ("Blue Harbor Logistics", "blueharbor.example.com", "+1 415 555 0101"),
    ("Северсталь Сервис", "severservice.example.ru", "+7 812 555 0102"),
    ("Bianchi & Figli", "bianchifigli.example.it", "+39 02 555 0103"),
    ("กรุงเทพอาหาร", "bkkfood.example.co.th", "+66 2 555 0104"),
    ("长城贸易", "greatwall.example.cn", "+86 21 5555 0105"),
]
FIRST = [
    ["Emma", "James", "Olivia", "Noah"],
    ["Анна", "Дмитрий", "Ольга", "Сергей"],
    ["Giulia", "Marco", "Chiara", "Luca"],
    ["สมหญิง", "อนันต์", "มาลี", "ประเสริฐ"],
    ["芳", "伟", "静", "磊"],
]
LAST = [
    ["Clark", "Wilson", "Taylor", "Evans"],
    ["Смирнова", "Кузнецов", "Попова", "Соколов"],
    ["Ricci", "Bianchi", "Romano", "Colombo"],
    ["ศรีสุข", "แสงทอง", "บุญมา", "ใจดี"],
    ["王", "李", "张", "刘"],
]
CONTACTS_PER_COMPANY = 6
# The catalogue, with names in the users' scripts: (name, SKU, unit price).
PRODUCTS = [
    ("CRM seat, yearly", "SEAT-Y", "540.00"),
    ("Onboarding workshop", "ONB-1", "1200.00"),
    ("Интеграция учёта", "INT-ACC", "2500.00"),
    ("Supporto premium", "SUP-PRM", "900.00"),
    ("ชุดอบรมทีมขาย", "TRN-TH", "650.00"),
    ("数据迁移服务", "MIG-CN", "1800.00"),
]


def demo_seed(*, tenant: Tenant) -> None:
    """Idempotent: does nothing when the workspace already has a pipeline."""
    connection.set_tenant(tenant)  # type: ignore[attr-defined]
    try:
        if Pipeline.objects.exists():
            return
        _seed(tenant)
    finally:
        connection.set_schema_to_public()  # type: ignore[attr-defined]


def _seed(tenant: Tenant) -> None:
    members = list(
        Membership.objects.filter(tenant=tenant).select_related("tenant", "user").order_by("id")
    )
    owner = next(m for m in members if m.role == "owner")
    sellers = [m for m in members if m.role in ("owner", "manager", "sales_rep")]
    rng = random.Random(7)  # noqa: S311 - demo data, not security
    pipelines = [
        services.pipeline_create(
            actor=owner,
            name=name,
            stages=[
                StageInput("Qualification", 10),
                StageInput("Proposal", 40),
                StageInput("Negotiation", 70),
                StageInput("Won", 100, "won"),
                StageInput("Lost", 0, "lost"),
            ],
        )
        for name in ("New business", "Renewals")
    ]
    products = [
        services.product_create(
            actor=owner, name=name, sku=sku, unit_price=price, currency=tenant.currency
        )
        for name, sku, price in PRODUCTS
    ]
    now = timezone.now()
    for index, (name, domain, phone) in enumerate(COMPANY_NAMES):
        script = index % 5
        seller = sellers[index % len(sellers)]
        company = services.company_create(
            actor=owner, name=name, domain=domain, owner_id=seller.user_id, industry="Retail"
        )
        for n in range(CONTACTS_PER_COMPANY):
            first, last = FIRST[script][n % 4], LAST[script][(n + index) % 4]
            contact = services.contact_create(
                actor=owner,
                first_name=first,
                last_name=last,
                emails=[f"person{index}-{n}@{domain}"],
                phones=[phone[:-2] + f"{n:02d}"],
                company=company,
                owner_id=seller.user_id,
                lifecycle_stage=rng.choice(["lead", "qualified", "opportunity", "customer"]),
            )
            services.record_log_activity(
                actor=owner,
                record=contact,
                kind=rng.choice(["call", "email", "meeting", "note"]),
                subject=f"{first} {last}",
                occurred_at=now - timedelta(days=rng.randrange(0, 365)),
            )
            if n % 2 == 0:
                services.task_create(
                    actor=owner,
                    title=f"Follow up: {first} {last}",
                    due_at=now + timedelta(hours=rng.randrange(-72, 120)),
                    contact=contact,
                    owner_id=seller.user_id,
                )
            if n % 3 == 0:
                pipeline = pipelines[n % 2]
                stages = list(pipeline.stages.order_by("position"))
                deal = services.deal_create(
                    actor=owner,
                    name=f"{name} · {first}",
                    stage=stages[0],
                    amount=rng.randrange(1_000, 80_000),
                    company=company,
                    contacts=[contact],
                    owner_id=seller.user_id,
                    expected_close_date=(now + timedelta(days=rng.randrange(-30, 90))).date(),
                )
                # Most deals carry line items, whose totals then make the deal's amount.
                if n == 0 or index % 2 == 0:
                    for product in rng.sample(products, rng.randrange(1, 4)):
                        services.line_item_add(
                            actor=owner,
                            deal=deal,
                            product=product,
                            quantity=rng.randrange(1, 25),
                            discount=rng.choice([0, 0, 5, 10, 15]),
                        )
                for stage in stages[1 : 1 + rng.randrange(0, 4)]:
                    services.deal_move_stage(
                        actor=owner, deal=deal, stage=stage, lost_reason="Budget"
                    )
        services.lead_create(
            actor=owner,
            first_name=FIRST[script][3],
            last_name=LAST[script][0],
            company_name=f"{name} (2)",
            source=rng.choice(["web", "trade fair", "referral"]),
        )

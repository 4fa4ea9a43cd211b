"""Demo data for `make run`'s workspace: a pipeline, companies, contacts, deals, tasks and
activities with names in English, Russian, Italian, Thai and Chinese, written through the
services so every derived field (search text, history, timeline) is real."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from crm_modules.sales import services
from crm_modules.sales.models import Pipeline
from crm_modules.sales.services import StageInput
from tenants.models import Membership, Tenant

COMPANIES = [
    ("Northwind Traders", "northwind.example.com"),
    ("Ромашка", "romashka.example.ru"),
    ("Ferrari Forniture Srl", "ferrari-forniture.example.it"),
    ("บริษัท สยามเทค จำกัด", "siamtech.example.co.th"),
    ("北京云图科技有限公司", "yuntu.example.cn"),
]
PEOPLE = [
    ("Emma", "Clark"),
    ("Анна", "Смирнова"),
    ("Giulia", "Ricci"),
    ("สมหญิง", "ศรีสุข"),
    ("芳", "王"),
    ("James", "Wilson"),
    ("Дмитрий", "Кузнецов"),
    ("Marco", "Bianchi"),
    ("อนันต์", "แสงทอง"),
    ("伟", "李"),
]


def demo_seed(*, tenant: Tenant) -> None:
    """Idempotent: does nothing when the workspace already has a pipeline."""
    connection.set_tenant(tenant)  # type: ignore[attr-defined]
    try:
        if Pipeline.objects.exists():
            return
        owner = Membership.objects.select_related("tenant", "user").get(tenant=tenant, role="owner")
        rng = random.Random(7)  # noqa: S311 - demo data, not security
        pipeline = services.pipeline_create(
            actor=owner,
            name="Sales",
            stages=[
                StageInput("Qualification", 10),
                StageInput("Proposal", 40),
                StageInput("Negotiation", 70),
                StageInput("Won", 100, "won"),
                StageInput("Lost", 0, "lost"),
            ],
        )
        stages = list(pipeline.stages.order_by("position"))
        companies = [
            services.company_create(actor=owner, name=name, domain=domain)
            for name, domain in COMPANIES
        ]
        for index, (first, last) in enumerate(PEOPLE):
            company = companies[index % len(companies)]
            contact = services.contact_create(
                actor=owner,
                first_name=first,
                last_name=last,
                emails=[f"person{index}@{company.domain}"],
                phones=[f"+39 06 6982 {1000 + index}"],
                company=company,
            )
            deal = services.deal_create(
                actor=owner,
                name=f"{company.name} · {first}",
                stage=stages[0],
                amount=rng.randrange(1_000, 50_000),
                company=company,
                contacts=[contact],
            )
            target = stages[index % 4]
            if target != stages[0]:
                services.deal_move_stage(actor=owner, deal=deal, stage=target)
            services.record_log_activity(
                actor=owner, record=contact, kind="call", subject=f"Call with {first}"
            )
            services.task_create(
                actor=owner,
                title=f"Follow up: {first} {last}",
                due_at=timezone.now() + timedelta(days=index - 3),
                contact=contact,
            )
    finally:
        connection.set_schema_to_public()  # type: ignore[attr-defined]

"""Sales records for tests. Rows are made in whatever schema the connection is on (the tests
switch to a workspace first); records that the services would index get their search text."""

from __future__ import annotations

from decimal import Decimal

import factory

from crm_modules.sales.models import Company, Contact, Deal, Lead, Pipeline, Stage, Task


class CompanyFactory(factory.django.DjangoModelFactory[Company]):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    search_text = factory.LazyAttribute(lambda o: o.name.lower())


class ContactFactory(factory.django.DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Person"
    search_text = factory.LazyAttribute(lambda o: f"{o.first_name} {o.last_name}".lower())


class LeadFactory(factory.django.DjangoModelFactory[Lead]):
    class Meta:
        model = Lead

    first_name = factory.Sequence(lambda n: f"Lead{n}")
    source = "web"
    search_text = factory.LazyAttribute(lambda o: o.first_name.lower())


class PipelineFactory(factory.django.DjangoModelFactory[Pipeline]):
    class Meta:
        model = Pipeline
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Pipeline {n}")

    @factory.post_generation
    def stages(obj: Pipeline, create: bool, extracted: object, **kwargs: object) -> None:
        if not create:
            return
        Stage.objects.bulk_create(
            [
                Stage(pipeline=obj, name="New", position=0, probability=10),
                Stage(pipeline=obj, name="Proposal", position=1, probability=50),
                Stage(pipeline=obj, name="Won", position=2, probability=100, kind=Stage.Kind.WON),
                Stage(pipeline=obj, name="Lost", position=3, probability=0, kind=Stage.Kind.LOST),
            ]
        )


class DealFactory(factory.django.DjangoModelFactory[Deal]):
    class Meta:
        model = Deal

    name = factory.Sequence(lambda n: f"Deal {n}")
    pipeline = factory.SubFactory(PipelineFactory)
    stage = factory.LazyAttribute(lambda o: o.pipeline.stages.order_by("position").first())
    amount = Decimal("1000.00")
    currency = "USD"
    search_text = factory.LazyAttribute(lambda o: o.name.lower())


class TaskFactory(factory.django.DjangoModelFactory[Task]):
    class Meta:
        model = Task

    title = factory.Sequence(lambda n: f"Task {n}")

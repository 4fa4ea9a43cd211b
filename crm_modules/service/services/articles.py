"""Knowledge-base writes: categories and articles (drafts or published, internal or public),
each in one of the product's languages, translations linked by a shared group."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.service.models import Article, ArticleCategory
from crm_modules.service.module import ARTICLE_SAVED, MANAGE_ARTICLES
from crm_modules.service.services.tickets import check_body, check_choice
from crm_platform.errors import ServiceError
from crm_platform.validation import check_text
from tenants.audit.services import audit_record
from tenants.models import Membership
from tenants.permissions import require

LANGUAGES = [code for code, _name in settings.LANGUAGES]


def article_category_create(*, actor: Membership, name: Any) -> ArticleCategory:
    require(actor, MANAGE_ARTICLES)
    clean = check_text(
        name if isinstance(name, str) else "", field="name", max_length=100, label=_("Name")
    )
    position = ArticleCategory.objects.count()
    return ArticleCategory.objects.create(name=clean, position=position)


def _clean(changes: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    if "title" in changes:
        raw = changes["title"]
        clean["title"] = check_text(
            raw if isinstance(raw, str) else "", field="title", max_length=200, label=_("Title")
        )
    if "body" in changes:
        clean["body"] = check_body(changes["body"], field="body", required=True)
    if "language" in changes:
        if changes["language"] not in LANGUAGES:
            raise ServiceError(_("Choose a language from the list."), field="language")
        clean["language"] = changes["language"]
    if "state" in changes:
        clean["state"] = check_choice(changes["state"], Article.State, field="state")
    if "visibility" in changes:
        clean["visibility"] = check_choice(
            changes["visibility"], Article.Visibility, field="visibility"
        )
    if "category" in changes:
        raw = changes["category"]
        if raw in (None, ""):
            clean["category"] = None
        else:
            category = (
                ArticleCategory.objects.filter(pk=int(raw)).first() if str(raw).isdigit() else None
            )
            if category is None:
                raise ServiceError(_("Choose a category from the list."), field="category")
            clean["category"] = category
    return clean


def _search_fields(article: Article) -> None:
    article.search_title = " ".join(article.title.split()).lower()
    article.search_text = f"{article.search_title} {' '.join(article.body.split()).lower()}"


def article_save(
    *,
    actor: Membership,
    article: Article | None = None,
    translation_of: Article | None = None,
    changes: dict[str, Any],
) -> Article:
    """Write a new article (``article`` None), a translation of ``translation_of`` into another
    language, or change ``article``."""
    require(actor, MANAGE_ARTICLES)
    clean = _clean(changes)
    with transaction.atomic():
        if article is None:
            for required in ("title", "body", "language"):
                if required not in clean:
                    raise ServiceError(
                        _("%(label)s is required.") % {"label": required}, field=required
                    )
            target = Article(created_by=actor.user)
            if translation_of is not None:
                target.group = translation_of.group or translation_of.pk
                target.category = translation_of.category
                target.visibility = translation_of.visibility
        else:
            target = Article.objects.select_for_update().get(pk=article.pk)
        for name, value in clean.items():
            setattr(target, name, value)
        _search_fields(target)
        target.updated_at = timezone.now()
        try:
            with transaction.atomic():
                target.save()
                if target.group is None:
                    target.group = target.pk
                    target.save(update_fields=["group"])
                if translation_of is not None and translation_of.group is None:
                    Article.objects.filter(pk=translation_of.pk).update(group=target.group)
        except IntegrityError as exc:
            raise ServiceError(
                _("This article already has a translation in that language."),
                field="language",
                code="duplicate",
            ) from exc
        audit_record(
            tenant=actor.tenant,
            actor=actor.user,
            action=ARTICLE_SAVED,
            target=target,
            data={"fields": sorted(clean)},
        )
    return target

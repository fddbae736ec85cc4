"""What the editors' pages do to a draft, kept apart from HTTP: edit, check, fill, test-send."""

from __future__ import annotations

import dataclasses
import gettext
import re
import secrets
from datetime import UTC, datetime

import lxml.html
from lxml import etree

from digest.config import Config
from digest.config.lists import variant_config
from digest.delivery.base import Recipient
from digest.edition import edits as edit_ops
from digest.edition.build import preview_values
from digest.i18n import SOURCE, translations
from digest.models import Edition, Subscriber, Variant, edition_from_dict, edition_to_dict
from digest.render import Personalizer, render_edition
from digest.render.checks import GMAIL_CLIP_BYTES, NO_ALT, image_problems, size_warning
from digest.store.db import Database
from digest.store.editions import StoredEdition, get_edition, replace_rendering

SUBJECT_WARN = 78  # characters: phones show about 40, desktop clients 60-80


def base_edition(stored: StoredEdition) -> Edition:
    """The edition as its sources built it, before any editor's change."""
    base = (stored.edits or {}).get("base")
    return edition_from_dict(base) if base else stored.edition


def current_edits(stored: StoredEdition) -> dict:
    return edit_ops.clean(stored.edits)


def view(stored: StoredEdition, locale: str | None) -> StoredEdition:
    """The stored edition as one variant shows it (its edition and rendering in the default's
    place); the default one for a locale it has no variant in."""
    for v in stored.variants:
        if v.locale == locale:
            return dataclasses.replace(stored, edition=v.edition, rendered=v.rendered)
    return stored


def _render(config: Config, edition: Edition, *, variant: bool):
    vc = variant_config(config, edition.list_name, edition.locale)
    return render_edition(
        edition, vc, list_title=vc.list_config(edition.list_name).title, variant=variant
    )


def save_edits(config: Config, db: Database, stored: StoredEdition, edits: dict) -> StoredEdition:
    """Apply ``edits`` to the sources' edition and each variant, render each again, store
    (withdrawing approval). Pins, drops and order apply to the stories a variant shares (by
    link or title), promotions and the note to every variant; the subject override, rewrites
    and added stories, typed in the default language, to the default variant only."""
    base = base_edition(stored)
    edits = edit_ops.clean(edits)
    edition = edit_ops.apply(base, edits)
    rendered = _render(config, edition, variant=False)
    local = {k: v for k, v in edits.items() if k not in edit_ops.DEFAULT_ONLY}
    variants = []
    for other in base.variants:
        changed = edit_ops.apply(other, local)
        variants.append(Variant(changed, _render(config, changed, variant=True)))
    edition = dataclasses.replace(edition, variants=tuple(v.edition for v in variants))
    stored_edits = {**edits, "base": edition_to_dict(base)} if edits else None
    replace_rendering(
        db, stored.id, edition, rendered, edits=stored_edits, variants=tuple(variants)
    )
    saved = get_edition(db, stored.id)
    assert saved is not None  # replace_rendering raises when the edition is gone
    return saved


def filled(config: Config, stored: StoredEdition) -> tuple[str, str]:
    """HTML and text with preview values: no name, and no working unsubscribe link."""
    values = preview_values(config, stored.edition.locale)
    return Personalizer(stored.rendered).fill(values)


def checks(
    config: Config, stored: StoredEdition, t: gettext.NullTranslations | None = None
) -> list[dict]:
    """The check panel: each {"name", "ok", "detail"}, in the language of ``t``."""
    _ = (t or translations(SOURCE)).gettext
    r = stored.rendered
    html, text = filled(config, stored)
    size = len(r.html.encode("utf-8"))
    out = [
        _check(
            _("HTML size"),
            size <= config.edition.max_html_bytes,
            size_warning(r.html, config.edition.max_html_bytes, _)
            or _("%(size)s KB (Gmail clips above about %(clip)s KB)")
            % {"size": f"{size / 1000:.1f}", "clip": f"{GMAIL_CLIP_BYTES / 1000:.0f}"},
        )
    ]
    alt = [_(m) % {"name": n} for m, n in image_problems(r.html) if m == NO_ALT]
    out.append(
        _check(_("Images with alt text"), not alt, " ".join(alt) or _("every image has one"))
    )
    insecure = insecure_links(html)
    out.append(
        _check(
            _("Links use https"),
            not insecure,
            (_("Not https: %(links)s") % {"links": ", ".join(insecure[:10])})
            if insecure
            else _("all https"),
        )
    )
    length = len(r.subject)
    out.append(
        _check(
            _("Subject length"),
            0 < length <= SUBJECT_WARN,
            (
                _("%(length)s characters (over %(limit)s: clients cut it)")
                if length > SUBJECT_WARN
                else _("%(length)s characters")
            )
            % {"length": length, "limit": SUBJECT_WARN},
        )
    )
    address = config.site.postal_address
    has_address = address in _text_of(html) and address in text
    out.append(
        _check(
            _("Postal address"),
            has_address,
            address if has_address else _("the footer lacks the postal address"),
        )
    )
    tokens = r.tokens
    has_unsub = (
        tokens.get("html", {}).get("unsubscribe_url", "\0") in r.html
        and tokens.get("text", {}).get("unsubscribe_url", "\0") in r.text
    )
    out.append(
        _check(
            _("Unsubscribe link"),
            has_unsub,
            _("in both parts") if has_unsub else _("missing from the HTML or text part"),
        )
    )
    return out


def _check(name: str, ok: bool, detail: str) -> dict:
    return {"name": name, "ok": bool(ok), "detail": detail}


def _text_of(html: str) -> str:
    try:
        doc = lxml.html.document_fromstring(html)
        # lxml-stubs says _Element; the HTML parser makes HtmlElements (with text_content).
        assert isinstance(doc, lxml.html.HtmlElement)
        return re.sub(r"\s+", " ", doc.text_content())
    except (etree.ParserError, ValueError):
        return html


def insecure_links(html: str) -> list[str]:
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    links = [a.get("href") or "" for a in root.iter("a")] + [
        i.get("src") or "" for i in root.iter("img")
    ]
    return sorted({u for u in links if u and not u.startswith(("https://", "mailto:", "#"))})


def send_test(config: Config, stored: StoredEdition, backend, address: str) -> str:
    """One message of the draft to ``address``, with preview values (a test message must not
    carry anyone's working unsubscribe link). Returns the backend's detail."""
    from digest.delivery.job import make_job
    from digest.normalize import normalize_email

    address = normalize_email(address)
    rendered = dataclasses.replace(stored.rendered, subject=f"[test] {stored.rendered.subject}")
    vc = variant_config(config, stored.list_name, stored.edition.locale)
    job = make_job(vc, stored.edition, rendered)
    values = {**preview_values(config, stored.edition.locale)}
    recipient = Recipient(
        subscriber=Subscriber(id=0, email=address),
        values=values,
        message_id=f"<{stored.id}.test.{secrets.token_hex(6)}@"
        f"{config.sender.email.rsplit('@', 1)[-1]}>",
    )
    try:
        outcomes = backend.send_batch(job, [recipient])
    finally:
        backend.close()
    outcome = outcomes[0]
    if outcome.status != "sent":
        from digest.errors import DigestError

        raise DigestError(f"the test message was not sent: {outcome.detail}")
    return outcome.detail


def now_utc() -> datetime:
    return datetime.now(UTC)

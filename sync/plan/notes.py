"""Note mirroring and the marker that stops a mirrored note from coming back.

A mirrored note starts with :data:`MARKER` — plain ASCII in square brackets, which
both amoCRM notes and Bitrix24 timeline comments keep verbatim (it is not a BBCode
tag) and which a person reads as "this came from the bridge". A note that carries
the marker is never mirrored; notes the bridge writes for its own reasons (the
orphan notice, a channel-conflict comment, the weekly status request) carry it too
(:func:`bridge.model.bridge_note`).

Mirroring is stateless: a note is due when the other side has no note with the
same mirrored text (compared with whitespace collapsed, since CRMs re-wrap text).
That is idempotent across retries and crashes without storing note ids; the engine
chooses which notes to pass (e.g. those created since the link was made).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from bridge.model import NOTE_MARKER, Note

MARKER = NOTE_MARKER


def is_mirrored(text: str) -> bool:
    """True for text the bridge wrote (it starts with the marker)."""
    return text.lstrip().startswith(MARKER)


def mirrored_text(source_label: str, text: str) -> str:
    return f"{MARKER} {source_label}: {text.strip()}"


def _squash(text: str) -> str:
    return " ".join(text.split())


def notes_to_mirror(source: Sequence[Note], target: Iterable[Note], source_label: str) -> list[str]:
    """Texts to add on the target side: unmarked source notes not mirrored there yet."""
    present = {_squash(n.text) for n in target}
    due: list[str] = []
    for note in sorted(source, key=_note_order):
        if is_mirrored(note.text) or not note.text.strip():
            continue
        text = mirrored_text(source_label, note.text)
        if _squash(text) not in present:
            present.add(_squash(text))
            due.append(text)
    return due


def _note_order(note: Note) -> dt.datetime:
    return note.created_at or dt.datetime.min.replace(tzinfo=dt.UTC)


def partner_notes_to_mirror(
    partner_notes: Sequence[Note], agency_notes: Iterable[Note], partner_name: str
) -> list[str]:
    """Partner notes due on the agency deal, labelled with the partner's name."""
    return notes_to_mirror(partner_notes, agency_notes, partner_name)


def agency_notes_to_mirror(
    agency_notes: Sequence[Note], partner_notes: Iterable[Note], agency_label: str
) -> list[str]:
    """Agency notes due on the partner deal."""
    return notes_to_mirror(agency_notes, partner_notes, agency_label)


def orphan_notice(partner_name: str, partner_deal_id: str, language: str) -> str:
    """The timeline comment telling the agency that the partner deal is gone."""
    if language == "ru":
        body = (
            f"Сделка партнёра «{partner_name}» (id {partner_deal_id}) удалена или недоступна."
            " Синхронизация остановлена; мост сделки не удаляет — решите, что делать дальше."
        )
    else:
        body = (
            f"The deal at partner '{partner_name}' (id {partner_deal_id}) was deleted or is"
            " unreachable. Sync stopped; the bridge never deletes deals — decide what to do next."
        )
    return f"{MARKER} {body}"


def won_elsewhere_notice(language: str, *, closed: bool) -> str:
    """The note an open partner gets when the client chose another partner (fan-out).

    It names nobody: partners never learn who else worked the lead."""
    if language == "ru":
        body = "Клиент выбрал другого исполнителя по этой заявке."
        body += " Сделка закрыта агентством." if closed else " Просим закрыть сделку."
    else:
        body = "The client chose another partner for this lead."
        body += " The agency closed this deal." if closed else " Please close this deal."
    return f"{MARKER} {body}"


def rerouted_notice(language: str, *, closed: bool) -> str:
    """The note the old partner gets when the agency re-routes the deal to another one."""
    if language == "ru":
        body = "Агентство передало эту сделку другому партнёру; синхронизация остановлена."
        body += " Сделка закрыта агентством." if closed else " Просим закрыть сделку."
    else:
        body = "The agency handed this deal to another partner; sync stopped."
        body += " The agency closed this deal." if closed else " Please close this deal."
    return f"{MARKER} {body}"

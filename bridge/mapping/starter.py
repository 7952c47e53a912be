"""``bridge init``: write a starter mapping.yaml (and .env.example) from the live CRMs.

The admin edits names read from the portal instead of typing ids. Guesses
(which pipeline, which stages pair up) are marked ``# check``; everything else
the CRMs offer is listed in comments next to the key that could use it. The
text is generated from catalogs only, so it is tested without HTTP.

A partner's ``name:`` is the routing option that names it — matched by name
(``alfa`` ↔ «Веб-Студия Альфа», transliterated), never by position; when no
single option matches, the file says ``# choose`` and lists the options. The
secrets the daemon verifies webhooks with (``application_token``,
``webhook_secret``) are referenced too, so the starter runs once they are set.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from bridge.mapping.compiled import CrmKind
from bridge.model import FieldDef, FieldKind, Pipeline, Semantics, Stage

_SIMILAR = 0.6


@dataclass(frozen=True)
class Catalog:
    """What one CRM offers: its pipelines and custom fields."""

    pipelines: Sequence[Pipeline]
    fields: Sequence[FieldDef]


@dataclass(frozen=True)
class PartnerSeed:
    code: str
    kind: CrmKind
    catalog: Catalog


def env_names(code: str, kind: CrmKind) -> dict[str, str]:
    """The variables a partner's connection refers to, by connection key."""
    prefix = code.upper().replace("-", "_")
    if kind is CrmKind.BITRIX24:
        return {"url": f"{prefix}_B24_WEBHOOK"}
    return {"url": f"{prefix}_AMO_URL", "token": f"{prefix}_AMO_TOKEN"}


def secret_names(code: str, kind: CrmKind) -> dict[str, str]:
    """The variables holding what the daemon checks a partner's webhooks with."""
    prefix = code.upper().replace("-", "_")
    if kind is CrmKind.BITRIX24:
        return {"application_token": f"{prefix}_B24_APP_TOKEN"}
    return {"webhook_secret": f"{prefix}_AMO_HOOK_SECRET"}


def agency_token_name(webhook_env: str) -> str:
    """``AGENCY_B24_WEBHOOK`` → ``AGENCY_B24_APP_TOKEN``."""
    stem = webhook_env.removesuffix("_WEBHOOK")
    return f"{stem}_APP_TOKEN"


_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "sch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya",
}  # fmt: skip


def _words(text: str) -> list[str]:
    """Lower-case latin words: «Веб-Студия Альфа» → ``['veb', 'studiya', 'alfa']``."""
    latin = "".join(_LATIN.get(ch, ch) for ch in text.casefold())
    return "".join(c if c.isalnum() else " " for c in latin).split()


def match_option(code: str, options: Sequence[str]) -> str | None:
    """The one routing option whose words include ``code`` (Cyrillic transliterated), else None."""
    wanted = code.casefold()
    found = [o for o in options if wanted in _words(o)]
    return found[0] if len(found) == 1 else None


def _q(text: str) -> str:
    """A YAML scalar that is always read back as this exact text."""
    return json.dumps(text, ensure_ascii=False)


def _pick_pipeline(pipelines: Sequence[Pipeline]) -> Pipeline:
    for pipeline in pipelines:
        if "партн" in pipeline.name.casefold() or "агентств" in pipeline.name.casefold():
            return pipeline
    return next((p for p in pipelines if not p.is_default), pipelines[0])


def _routing_field(fields: Sequence[FieldDef]) -> FieldDef | None:
    enums = [f for f in fields if f.kind is FieldKind.ENUM]
    return next((f for f in enums if f.multiple), enums[0] if enums else None)


def _pairs(agency: Pipeline, partner: Pipeline, kind: CrmKind) -> list[tuple[Stage, Stage, str]]:
    """Won to won, lost to lost, open stages by similar name, else by position (to check)."""
    ours = [s for s in agency.stages if s.semantics is Semantics.OPEN][1:]  # first: "new"
    theirs = [s for s in partner.stages if s.semantics is Semantics.OPEN]
    if kind is CrmKind.AMOCRM:
        theirs = theirs[1:]  # amoCRM's first stage is "unsorted" (incoming leads)
    pairs = [(left, right, "  # check") for left, right in _open_pairs(ours, theirs)]
    for semantics in (Semantics.WON, Semantics.LOST):
        left_s = next((s for s in agency.stages if s.semantics is semantics), None)
        right_s = next((s for s in partner.stages if s.semantics is semantics), None)
        if left_s and right_s:
            pairs.append((left_s, right_s, f"  # {semantics.value}"))
    return pairs


def _open_pairs(ours: list[Stage], theirs: list[Stage]) -> list[tuple[Stage, Stage]]:
    free = list(theirs)
    pairs = []
    for left in ours:
        if not free:
            break
        scored = [
            (SequenceMatcher(None, left.name.casefold(), r.name.casefold()).ratio(), r)
            for r in free
        ]
        best_score, best = max(scored, key=lambda item: item[0])
        right = best if best_score >= _SIMILAR else free[0]
        free.remove(right)
        pairs.append((left, right))
    return pairs


def _field_comment(fields: Sequence[FieldDef]) -> str:
    listed = ", ".join(f"{f.code or f.id} «{f.name}» ({f.kind.value})" for f in fields)
    return f"      # custom fields here: {listed or 'none'}"


def _agency_lines(catalog: Catalog, webhook_env: str) -> list[str]:
    pipeline = _pick_pipeline(catalog.pipelines)
    routing = _routing_field(catalog.fields)
    others = ", ".join(p.name for p in catalog.pipelines)
    lines = [
        "agency:",
        f"  webhook: ${{{webhook_env}}}",
        f"  application_token: ${{{agency_token_name(webhook_env)}}}  # outgoing webhook token",
        f"  pipeline: {_q(pipeline.name)}  # check; pipelines: {others}",
    ]
    if routing is not None:
        options = ", ".join(o.value for o in routing.options)
        lines.append(f"  routing_field: {routing.code or routing.id}  # options: {options}")
    else:
        lines.append("  routing_field: UF_CRM_PARTNER  # check: no list field found")
    return [*lines, "  currency: RUB", ""]


def _name_line(seed: PartnerSeed, options: Sequence[str]) -> str:
    matched = match_option(seed.code, options)
    if matched is not None:
        return f"    name: {_q(matched)}  # check: the routing option matched by name"
    listed = ", ".join(options) or "no routing options found"
    return f"    name: {_q(seed.code)}  # choose: the routing option naming it — {listed}"


def _partner_lines(seed: PartnerSeed, agency: Catalog, options: Sequence[str]) -> list[str]:
    pipeline = _pick_pipeline(seed.catalog.pipelines)
    ours = _pick_pipeline(agency.pipelines)
    names = env_names(seed.code, seed.kind) | secret_names(seed.code, seed.kind)
    lines = [
        f"  {seed.code}:",
        _name_line(seed, options),
        f"    kind: {seed.kind.value}",
        "    connection:",
        *(f"      {key}: ${{{var}}}" for key, var in names.items()),
        f"    pipeline: {_q(pipeline.name)}",
        "    stages:",
        f"      # partner stages: {', '.join(s.name for s in pipeline.stages)}",
        "      map:",
        *(
            f"        {_q(a.name)}: {_q(b.name)}{note}"
            for a, b, note in _pairs(ours, pipeline, seed.kind)
        ),
        "    fields: {}",
        _field_comment(seed.catalog.fields),
    ]
    return lines


def starter_yaml(agency: Catalog, partners: Sequence[PartnerSeed], webhook_env: str) -> str:
    routing = _routing_field(agency.fields)
    options = [o.value for o in routing.options] if routing else []
    lines = [
        "# yaml-language-server: $schema=schema/mapping.schema.json",
        "# Written by `bridge init` from the live CRMs. Review every '# check', then run",
        "# `bridge check`. The documented example mapping.yaml explains every key.",
        "version: 1",
        "",
        *_agency_lines(agency, webhook_env),
        "defaults:",
        "  unmapped_stages: park  # or ignore",
        "  fields:",
        "    title: {agency: title, partner: title, direction: to_partner}",
        "    amount: {agency: amount, partner: amount, direction: both, owner: partner}",
        "    client_name: {agency: contact.name, partner: contact.name, direction: to_partner}",
        "    client_phone: {agency: contact.phone, partner: contact.phone, direction: to_partner}",
        "    client_email: {agency: contact.email, partner: contact.email, direction: to_partner}",
        _field_comment(agency.fields).replace("      #", "    # agency"),
        "  commission:",
        "    rules:",
        "      - {kind: percent_of_amount, percent: 25, payer: partner}  # check",
        "",
        "partners:",
    ]
    for seed in partners:
        lines += _partner_lines(seed, agency, options)
    return "\n".join(lines) + "\n"


def starter_variables(partners: Sequence[PartnerSeed], webhook_env: str) -> list[str]:
    """Every variable the starter mapping refers to, in file order."""
    names = [webhook_env, agency_token_name(webhook_env)]
    for seed in partners:
        names += [*env_names(seed.code, seed.kind).values()]
        names += [*secret_names(seed.code, seed.kind).values()]
    return names


def starter_env(partners: Sequence[PartnerSeed], webhook_env: str) -> str:
    lines = [
        "# Fill in, save as .env next to mapping.yaml. *_HOOK_SECRET: a long random string,",
        "# e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))'",
        *(f"{name}=" for name in starter_variables(partners, webhook_env)),
    ]
    return "\n".join(lines) + "\n"

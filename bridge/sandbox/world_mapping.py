"""The ``mapping.yaml`` of a generated sandbox world: the agency and N partners.

Partners are named by kind and number (``amo1``… first, then ``btx1``…) and read
their connections from variables named like the repository's example
(``AMO1_AMO_URL``, ``BTX1_B24_WEBHOOK``…), so one ``.env`` builder serves both.
"""

from __future__ import annotations

AMO, B24 = "amocrm", "bitrix24"


def partner_kinds(count: int = 10, amo: int = 6) -> dict[str, str]:
    """Partner codes → kind: ``amo1``… first, then ``btx1``…"""
    if count < 1 or not 0 <= amo <= count:
        raise ValueError(f"a world needs 1 or more partners, {amo} of {count} on amoCRM")
    kinds = {f"amo{n}": AMO for n in range(1, amo + 1)}
    kinds.update({f"btx{n}": B24 for n in range(1, count - amo + 1)})
    return kinds


def mapping_yaml(kinds: dict[str, str], poll_interval: int = 60) -> str:
    """A mapping for these partners, resolvable against the demo seeds."""
    return _HEAD.format(poll_interval=poll_interval) + "".join(
        _partner_yaml(code, kind) for code, kind in kinds.items()
    )


def _partner_yaml(code: str, kind: str) -> str:
    upper = code.upper()
    if kind == AMO:
        return f"""
  {code}:
    name: Партнёр {code}
    kind: amocrm
    connection:
      url: ${{{upper}_AMO_URL}}
      token: ${{{upper}_AMO_TOKEN}}
      webhook_secret: ${{{upper}_AMO_HOOK_SECRET}}
    pipeline: Партнёрские лиды
    stages:
      map:
        Передана партнёру: Новый лид от агентства
        В работе у партнёра: [Квалификация, КП отправлено]
        Договор подписан: Договор
        Сделка успешна: Успешно реализовано
        Сделка провалена: Закрыто и не реализовано
      initial: Новый лид от агентства
"""
    return f"""
  {code}:
    name: Партнёр {code}
    kind: bitrix24
    connection:
      url: ${{{upper}_B24_WEBHOOK}}
      application_token: ${{{upper}_B24_APP_TOKEN}}
    pipeline: Лиды от агентства
    stages:
      unmapped: ignore
      map:
        Передана партнёру: Новый лид
        В работе у партнёра: Квалификация
        Договор подписан: Договор
        Сделка успешна: won
        Сделка провалена: lost
    fields:
      brief:
        partner: UF_CRM_BRIEF
"""


_HEAD = """version: 1
agency:
  webhook: ${{AGENCY_B24_WEBHOOK}}
  application_token: ${{AGENCY_B24_APP_TOKEN}}
  pipeline: Партнёрские сделки
  routing_field: UF_CRM_PARTNER
  currency: RUB
defaults:
  unmapped_stages: park
  fields:
    title: {{agency: title, partner: title, direction: to_partner}}
    amount: {{agency: amount, partner: amount, direction: both, owner: partner, converter: money}}
    client_name: {{agency: contact.name, partner: contact.name, direction: to_partner}}
    client_phone: {{agency: contact.phone, partner: contact.phone, direction: to_partner}}
    client_email: {{agency: contact.email, partner: contact.email, direction: to_partner}}
    brief:
      agency: UF_CRM_BRIEF
      partner: Бриф
      direction: to_partner
      default: "Бриф не заполнен"
  policies:
    poll_interval: {poll_interval}s
    mirror_notes: false
    language: ru
partners:"""

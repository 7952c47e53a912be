"""What ``bridge ledger pay`` refuses: unknown partners, foreign currencies, odd amounts.

The partners and their programme currency come from mapping.yaml, read leniently
(the YAML only — a payout can be recorded while a CRM credential is missing).
Without a mapping file the ledger itself is the authority: the partners and
currencies it already has entries for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from babel.numbers import get_currency_precision, list_currencies

from bridge.ledger.balances import sums
from bridge.ledger.entries import Entry, quantize
from bridge.mapping.compiled import Side
from sync.cli.errors import CliError, usage


@dataclass(frozen=True, slots=True)
class Programmes:
    """Partner code → the currencies its commission programme uses; where that came from."""

    currencies: Mapping[str, frozenset[str]]
    source: str


def _get(node: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def from_mapping(path: Path) -> Programmes:
    """Partner codes and programme currency from ``path`` (YAML level only)."""
    from bridge.mapping.yaml_loader import load_yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror} — pass --mapping FILE") from None
    loaded = load_yaml(text, str(path))
    partners = _get(loaded.data, "partners")
    if loaded.problems or not isinstance(partners, Mapping):
        raise CliError(f"{path} cannot be read as a mapping — run `bridge check -m {path}`")
    fallback = _get(loaded.data, "agency", "currency") or "RUB"
    default = _get(loaded.data, "defaults", "commission", "currency")
    out: dict[str, frozenset[str]] = {}
    for code, spec in partners.items():
        own = _get(spec, "commission", "currency") if _get(spec, "commission") else default
        currency = own or _get(spec, "currency") or fallback
        out[str(code)] = frozenset({str(currency).upper()})
    return Programmes(out, str(path))


def from_ledger(entries: Sequence[Entry]) -> Programmes:
    out: dict[str, set[str]] = {}
    for entry in entries:
        out.setdefault(entry.partner, set()).add(entry.currency)
    return Programmes({k: frozenset(v) for k, v in out.items()}, "the ledger")


def programmes(mapping: Path | None, entries: Sequence[Entry]) -> Programmes:
    """From ``mapping`` if given (or ./mapping.yaml exists), else from the ledger's entries."""
    if mapping is not None:
        return from_mapping(mapping)
    default = Path("mapping.yaml")
    return from_mapping(default) if default.is_file() else from_ledger(entries)


def check_partner(partner: str, known: Programmes) -> frozenset[str]:
    """The partner's currencies; an unknown partner is a usage error listing the known codes."""
    found = known.currencies.get(partner)
    if found is None:
        codes = ", ".join(sorted(known.currencies)) or "(none)"
        raise usage(f"partner {partner!r} is not in {known.source}; known partners: {codes}")
    return found


def check_currency(currency: str, allowed: frozenset[str], partner: str) -> str:
    code = currency.strip().upper()
    if code not in list_currencies():
        raise usage(f"--currency {currency!r} is not an ISO 4217 currency code (e.g. RUB, EUR)")
    if allowed and code not in allowed:
        raise usage(
            f"--currency {code}: {partner}'s commission programme is in "
            f"{', '.join(sorted(allowed))}; record the payout in that currency"
        )
    return code


def parse_amount(text: str, currency: str) -> Decimal:
    """A positive amount with at most the currency's minor units (``12.345 RUB`` is refused)."""
    cleaned = text.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise usage(f"AMOUNT {text!r} is not a number (e.g. 50000 or 50000.00)") from None
    if not value.is_finite():
        raise usage(f"AMOUNT {text!r} is not a number (e.g. 50000 or 50000.00)")
    if value <= 0:
        raise usage(f"AMOUNT {text!r} must be positive; to undo an entry use `bridge ledger void`")
    if "e" in cleaned.lower():
        raise usage(f"AMOUNT {text!r}: write the amount in digits (e.g. 1000000.00)")
    places = get_currency_precision(currency)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise usage(
            f"AMOUNT {text!r} has more decimals than {currency} has ({places}); "
            f"round it to {quantize(value, currency)} or check the figure"
        )
    return value


def open_balance(entries: Sequence[Entry], partner: str, payer: Side, currency: str) -> Decimal:
    """What ``payer`` owes in this partner's ``currency`` direction now."""
    return sums(entries).get((partner, payer, currency), Decimal(0))


def confirm_size(
    amount: Decimal,
    balance: Decimal,
    ceiling: Decimal | None,
    *,
    currency: str,
    yes: bool,
) -> None:
    """A payout above the open balance or the ceiling needs ``--yes``; say what would follow."""
    if yes:
        return
    after = balance - amount
    if amount > balance:
        raise CliError(
            f"AMOUNT {amount} {currency} is more than the open balance {balance} {currency}; "
            f"the balance would become {after} {currency} — pass --yes if that is right"
        )
    if ceiling is not None and amount > ceiling:
        raise CliError(
            f"AMOUNT {amount} {currency} is above the ceiling {ceiling} "
            f"(--ceiling / BRIDGE_PAYOUT_CEILING); the balance would become {after} {currency} "
            "— pass --yes if that is right"
        )

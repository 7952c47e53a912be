"""Where a partner CRM keeps the client company's ИНН, checked by ``bridge check``.

Bitrix24 keeps it in the company's requisites (always there); amoCRM in a company
custom field the account must have (``connection: company_tax_id_field``, default
``ИНН``). Without it the ИНН is neither sent with a new company nor read for channel
conflicts: a warning, not an error — deals still mirror.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bridge.crm import Crm, CrmError
from bridge.mapping.errors import KeyPath
from bridge.mapping.report import Reporter


@runtime_checkable
class CompanyTaxField(Protocol):
    """A CRM whose company ИНН lives in a company field found by name or code."""

    @property
    def company_tax_field(self) -> str:
        """The field's name or code as configured."""
        ...

    def find_company_tax_field(self) -> str | None:
        """The field's id, or None if the account has no such company field (read fresh)."""
        ...


def check_tax_field(crm: Crm, path: KeyPath, out: Reporter) -> None:
    if not isinstance(crm, CompanyTaxField):
        return
    try:
        found = crm.find_company_tax_field()
    except CrmError as exc:
        out.warn((*path, "connection"), f"cannot read the company fields: {exc}")
        return
    if found is None:
        message = (
            f"no company field '{crm.company_tax_field}' — the client's ИНН is neither sent "
            "to this partner nor read for channel conflicts; add a text company field "
            f"'{crm.company_tax_field}' in amoCRM, or name yours in "
            "'connection: company_tax_id_field'"
        )
        out.warn((*path, "connection"), message)

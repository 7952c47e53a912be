"""The naive sync every figure is compared with: one fetch and one write per deal per event.

This is how an iPaaS flow ("when a deal changes in A, get it, then create or
update it in B") or a typical cron script does the job: no batching, no
de-duplication, one HTTP call per step, over the same wire formats and the
same sandboxes as the bridge. Echo events of its own writes are not counted
(that flatters the baseline).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.sandbox.bitrix.portal import BitrixSandbox


class NaiveSync:
    def __init__(
        self,
        agency: BitrixSandbox,
        partners: Mapping[str, AmoSandbox | BitrixSandbox],
        routing: Mapping[str, str],
    ) -> None:
        self.agency = agency
        self.partners = partners
        self.by_option = {value: code for code, value in routing.items()}
        self.http = requests.Session()
        self.links: dict[str, tuple[str, str]] = {}  # agency deal → (partner code, partner id)

    def close(self) -> None:
        self.http.close()

    # --- wire --------------------------------------------------------------------
    def _b24(self, box: BitrixSandbox, method: str, params: dict[str, Any]) -> Any:
        reply = self.http.post(f"{box.webhook_url}{method}.json", json=params, timeout=30)
        reply.raise_for_status()
        return reply.json()["result"]

    def _amo(self, box: AmoSandbox, verb: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {box.long_lived_token}"}
        reply = self.http.request(
            verb, f"{box.base_url}/api/v4/{path}", json=body, headers=headers, timeout=30
        )
        reply.raise_for_status()
        return reply.json() if reply.content else None

    # --- the flows -----------------------------------------------------------------
    def on_agency_deal_added(self, deal_id: str) -> None:
        """Get the deal, get its contact, create both in the partner's CRM."""
        deal = self._b24(self.agency, "crm.deal.get", {"id": deal_id})
        contact = self._b24(self.agency, "crm.contact.get", {"id": deal["CONTACT_ID"]})
        code = self.by_option[str(deal["UF_CRM_PARTNER"][0])]
        box = self.partners[code]
        name = f"{contact['NAME']} {contact['LAST_NAME']}"
        if isinstance(box, AmoSandbox):
            lead = {
                "name": deal["TITLE"],
                "price": int(float(deal["OPPORTUNITY"])),
                "_embedded": {"contacts": [{"name": name}]},
            }
            created = self._amo(box, "POST", "leads/complex", [lead])
            self.links[deal_id] = (code, str(created[0]["id"]))
            return
        contact_id = self._b24(box, "crm.contact.add", {"fields": {"NAME": name}})
        fields = {"TITLE": deal["TITLE"], "OPPORTUNITY": deal["OPPORTUNITY"]}
        new_id = self._b24(box, "crm.deal.add", {"fields": fields | {"CONTACT_ID": contact_id}})
        self.links[deal_id] = (code, str(new_id))

    def on_agency_deal_updated(self, deal_id: str) -> None:
        """Get the deal, push its title to the partner's copy."""
        deal = self._b24(self.agency, "crm.deal.get", {"id": deal_id})
        code, partner_id = self.links[deal_id]
        box = self.partners[code]
        if isinstance(box, AmoSandbox):
            self._amo(box, "PATCH", f"leads/{partner_id}", {"name": deal["TITLE"]})
        else:
            self._b24(
                box, "crm.deal.update", {"id": partner_id, "fields": {"TITLE": deal["TITLE"]}}
            )

    def on_partner_deal_updated(self, code: str, partner_id: str) -> None:
        """Get the partner's deal, push its amount to the agency deal."""
        box = self.partners[code]
        agency_id = next(a for a, link in self.links.items() if link == (code, partner_id))
        if isinstance(box, AmoSandbox):
            amount = str(self._amo(box, "GET", f"leads/{partner_id}")["price"])
        else:
            amount = str(self._b24(box, "crm.deal.get", {"id": partner_id})["OPPORTUNITY"])
        fields = {"OPPORTUNITY": amount}
        self._b24(self.agency, "crm.deal.update", {"id": agency_id, "fields": fields})

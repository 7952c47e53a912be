"""The daemon's OAuth callback: completes a partner's amoCRM grant that
``bridge auth amocrm`` started, and stores the tokens in the daemon's database."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from bridge.logs import log_event
from bridge.mapping.compiled import PartnerConfig
from bridge.store.db import Store
from sync.runtime.app import HookRejected

log = logging.getLogger(__name__)


def complete_amocrm_grant(
    code: str,
    state: str,
    *,
    store: Store,
    partners: Mapping[str, PartnerConfig],
    on_granted: Callable[[], None],
) -> str:
    """Exchange ``code`` for tokens of the partner ``state`` names; the page's text.

    Raises :class:`HookRejected` (400) for an unknown or failed grant.
    ``on_granted`` runs after the tokens are saved (the mapping is resolved again:
    the partner may have been unavailable until now).
    """
    from bridge.crm import CrmError
    from bridge.mapping.connect import oauth_grant

    connections = {c: p.connection for c, p in partners.items()}
    grant = oauth_grant(state, connections, store.engine)
    if grant is None:
        raise HookRejected("unknown grant", 400)
    partner_code = grant.account
    try:
        grant.complete(code)
    except CrmError as exc:
        log_event(log, "oauth.grant_failed", logging.WARNING, partner=partner_code, error=str(exc))
        raise HookRejected("the grant could not be completed; run bridge auth again", 400) from None
    log_event(log, "oauth.granted", partner=partner_code)
    on_granted()
    return f"partner-bridge: access to {partner_code}'s amoCRM granted. You can close this page."

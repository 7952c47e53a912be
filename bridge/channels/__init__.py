"""Channel conflicts: normalised client identifiers checked against other partners' deals.

* :mod:`~bridge.channels.normalise` — pure: phone (E.164 of a valid number, read
  by :mod:`bridge.phones` as for mirroring), e-mail, ИНН (checksum), website
  domain (punycode);
* :mod:`~bridge.channels.conflicts` — the store side: record handovers, check,
  screen a batch of new partner deals (flag, comment, hold until confirmed).

The tables (``channel_handover``, ``channel_flag``) are in :mod:`~bridge.channels.tables`;
this package imports nothing, so the pure normaliser loads without the database libraries.
"""

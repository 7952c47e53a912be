"""The partner cabinet's data: per-partner link key versions and payout requests.

A cabinet link is signed with the bridge's secret and carries the partner's key
version; revoking a partner bumps that version, so every link issued before is
refused. Payout requests keep the partner's invoice (a PDF) with the request.
"""

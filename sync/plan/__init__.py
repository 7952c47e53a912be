"""The pure planner: (snapshots, link state, mapping) → operations.

No I/O and no clock: importing this package loads no database, HTTP or YAML
library (a test and an import contract keep it so). :mod:`sync.plan.planner` holds
the two entry points, :mod:`sync.plan.types` the operation types (the link state
it reads and returns, :class:`~bridge.model.LinkState`, is in :mod:`bridge.model`),
:mod:`sync.plan.values` the written-value hashes.
"""

from sync.plan.planner import plan_agency_deal, plan_partner_change

__all__ = ["plan_agency_deal", "plan_partner_change"]

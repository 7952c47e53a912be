"""Exchange rates entered by the admin, and the one conversion rule that uses them.

:mod:`bridge.fx.rates` is pure (the planner and the ledger get rates as data);
:mod:`bridge.fx.store` keeps them in the database, with who entered each and when.
"""

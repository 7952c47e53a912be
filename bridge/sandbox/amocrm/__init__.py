"""An amoCRM (API v4) account emulated over real HTTP: leads, fields, OAuth, limits, webhooks.

:mod:`bridge.sandbox.amocrm.account` is the entry point (``AmoSandbox``).
"""

"""A Bitrix24 portal emulated over real HTTP: REST methods, batch, limits, events, OAuth.

:mod:`bridge.sandbox.bitrix.portal` is the entry point (``BitrixSandbox``).
"""

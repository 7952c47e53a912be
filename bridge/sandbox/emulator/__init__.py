"""Shared machinery of the CRM sandboxes: HTTP serving, a controllable clock,
call counting, fault injection and outbound event delivery.

Each sandbox (``bridge.sandbox.bitrix.portal``, ``bridge.sandbox.amocrm.account``) supplies only
its API's semantics as an :class:`~bridge.sandbox.emulator.server.App`.
"""

from bridge.sandbox.emulator.clock import SimClock
from bridge.sandbox.emulator.counters import CallLog
from bridge.sandbox.emulator.faults import Fault, FaultKind, FaultPlan
from bridge.sandbox.emulator.outbox import Delivery, EventOutbox, OutboxPolicy
from bridge.sandbox.emulator.server import App, EmulatorServer, Request, Response

__all__ = [
    "App",
    "CallLog",
    "Delivery",
    "EmulatorServer",
    "EventOutbox",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "OutboxPolicy",
    "Request",
    "Response",
    "SimClock",
]

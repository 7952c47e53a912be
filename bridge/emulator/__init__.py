"""Shared machinery of the CRM sandboxes: HTTP serving, a controllable clock,
call counting, fault injection and outbound event delivery.

Each sandbox (``bridge.bitrix.sandbox``, ``bridge.amocrm.sandbox``) supplies only
its API's semantics as an :class:`~bridge.emulator.server.App`.
"""

from bridge.emulator.clock import SimClock
from bridge.emulator.counters import CallLog
from bridge.emulator.faults import Fault, FaultKind, FaultPlan
from bridge.emulator.outbox import Delivery, EventOutbox, OutboxPolicy
from bridge.emulator.server import App, EmulatorServer, Request, Response

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

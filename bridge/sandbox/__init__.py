"""Everything that pretends to be a CRM, for tests, the demo and benchmarks.

* :mod:`bridge.sandbox.emulator` — HTTP serving, a controllable clock, faults, an outbox;
* :mod:`bridge.sandbox.bitrix` — a Bitrix24 portal over real HTTP (``BitrixSandbox``);
* :mod:`bridge.sandbox.amocrm` — an amoCRM account over real HTTP (``AmoSandbox``);
* :mod:`bridge.sandbox.memory` — the one in-memory :class:`~bridge.crm.Crm`;
* :mod:`bridge.sandbox.world` — one builder of agency + partners + ``mapping.yaml`` + ``.env``
  (the example world, or N generated partners: :mod:`bridge.sandbox.world_mapping`).

Product modules never import this package (an import contract checks it); only the
demo, the ``bridge sandbox`` command, tests and benchmarks do.
"""

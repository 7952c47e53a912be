"""Runs the contract suite once per CRM implementation: two adapters and the in-memory fake."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

from tests.contract.harness import Backend

# name -> (module, factory): each factory is a context manager yielding a Backend.
BACKENDS = {
    "bitrix24": ("tests.contract.backend_bitrix24", "bitrix24_backend"),
    "amocrm": ("tests.contract.backend_amocrm", "amocrm_backend"),
    "memory": ("tests.contract.backend_memory", "memory_backend"),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    module_name, factory_name = BACKENDS[request.param]
    factory = getattr(importlib.import_module(module_name), factory_name)
    with factory() as created:
        yield created

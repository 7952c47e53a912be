"""Alembic environment: always runs on a connection handed over by ``bridge.store.migrate``."""

from __future__ import annotations

from alembic import context

from bridge.store.metadata import target_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through bridge.store.migrate(engine), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

"""Alembic's environment for the state's migrations: run by ``feeds.storage.migrate`` on
the connection it hands over (``config.attributes["connection"]``), inside the
transaction it holds; never from a command line of its own."""

from alembic import context

from feeds.storage.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

"""The head revision of the server's Alembic migrations, for the migration tests."""

from __future__ import annotations


def head_revision() -> str:
    """The newest Alembic revision of the server's migrations."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from sync_server.store.migrations import HERE

    config = Config()
    config.set_main_option("script_location", str(HERE))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head

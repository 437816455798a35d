"""The databases behind `agentmaint.store.HistoryStore`: SQLite (embedded) or PostgreSQL (shared).

``history.url`` chooses (`agentmaint.db.url`); both hold the same schema, upgraded
by the same migrations (`agentmaint.db.schema`). Modules:

* `agentmaint.db.base`: the `Database` interface the store's queries run on, `StoreError`;
* `agentmaint.db.url`: parsing ``history.url`` and redacting it for messages;
* `agentmaint.db.schema`: the migrations, rendered per engine;
* `agentmaint.db.sqlite`, `agentmaint.db.postgres`: the two engines.
"""

from __future__ import annotations

from pathlib import Path

from agentmaint.db.base import Database, StoreError
from agentmaint.db.postgres import PostgresDatabase
from agentmaint.db.sqlite import SqliteDatabase
from agentmaint.db.url import PostgresLocation, parse_history_url

__all__ = ["Database", "StoreError", "open_database"]


def open_database(url: str | None, state_dir: Path) -> Database:
    """Connect to (and migrate) the history database `url` names; None: the default file.

    Raises `StoreError` for an unsupported or malformed URL, an unreachable server,
    refused authentication, a missing driver, or a database that is not a history of
    a supported version; no message contains a password.
    """
    location = parse_history_url(url, state_dir)
    if isinstance(location, PostgresLocation):
        return PostgresDatabase(location)  # psycopg is imported only now
    return SqliteDatabase(location.path)

"""The databases behind `agentmaint.history.store.HistoryStore`: SQLite or PostgreSQL.

``history.url`` chooses (`agentmaint.history.db.url`); both hold the same schema, upgraded
by the same migrations (`agentmaint.history.db.schema`). Modules:

* `agentmaint.history.db.base`: the `Database` interface the store's queries run on;
* `agentmaint.history.db.url`: parsing ``history.url`` and redacting it for messages;
* `agentmaint.history.db.schema`: the migrations, rendered per engine;
* `agentmaint.history.db.sqlite`, `agentmaint.history.db.postgres`: the two engines.
"""

from __future__ import annotations

from pathlib import Path

from agentmaint.history.db.base import Database
from agentmaint.history.db.postgres import PostgresDatabase
from agentmaint.history.db.sqlite import SqliteDatabase
from agentmaint.history.db.url import PostgresLocation, parse_history_url

__all__ = ["Database", "open_database"]


def open_database(url: str | None, state_dir: Path, *, readonly: bool = False) -> Database:
    """Connect to (and migrate) the history database `url` names; None: the default file.

    Raises `StoreError` for an unsupported or malformed URL, an unreachable server,
    refused authentication, a missing driver, or a database that is not a history of
    a supported version; no message contains a password. `readonly` creates, migrates
    and writes nothing: `MissingHistoryError` for a history never created, `StoreError`
    for an older schema.
    """
    location = parse_history_url(url, state_dir)
    if isinstance(location, PostgresLocation):
        return PostgresDatabase(location, readonly=readonly)  # psycopg is imported only now
    return SqliteDatabase(location.path, readonly=readonly)

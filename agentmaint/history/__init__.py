"""The persistent history: runs, task results, host counts, roll-ups, deliveries.

Fifth stage of the pipeline: one database (SQLite or PostgreSQL) that records what
runs did and answers the planner's question about the past. `store` is the entry
point (`HistoryStore`, `open_history`); a finished run is recorded whole, in one
transaction, by `recording`; `rows` turns values into rows and back, `derived`
keeps the attempts and host states, `export` writes CSV and JSON, `db` holds the
two engines.
"""

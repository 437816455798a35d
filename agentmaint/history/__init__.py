"""The persistent history: runs, task results, host counts, roll-ups, deliveries.

Fifth stage of the pipeline: one database (SQLite or PostgreSQL) that records what
runs did and answers the planner's question about the past.
"""

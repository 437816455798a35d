"""The schedule file: JSON Schema, safe loading, validation, the typed `Schedule`.

First stage of the pipeline (schedule -> plan -> render -> run -> events ->
history -> notify): everything here is pure and imports only `agentmaint.errors`
and `agentmaint.records`.
"""

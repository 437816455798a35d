"""The Slack channel: an incoming-webhook message (fallback text and Block Kit blocks).

User text is mrkdwn-escaped and long sections are clipped to Slack's limits.
"""

from __future__ import annotations

from typing import Any

from agentmaint.notify.summary import _problem_lines, _rollback_lines, _table_text

__all__ = ["mrkdwn_escape", "slack_payload"]

_SLACK_TEXT_LIMIT = 2900


def mrkdwn_escape(text: str) -> str:
    """Escape text for Slack mrkdwn (``&``, ``<``, ``>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int = _SLACK_TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(summary: dict[str, Any]) -> dict[str, Any]:
    """The Slack incoming-webhook message: a fallback ``text`` and Block Kit ``blocks``."""
    m = mrkdwn_escape
    title = summary["title"]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, 150)}}
    ]

    def section(text: str) -> None:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}})

    if "run_id" not in summary:
        section(m(summary["text"]))
    else:
        section(
            f"*Run* `{m(summary['run_id'])}` ({m(summary['status'])}, "
            f"trigger {m(summary['trigger'])})\n"
            f"*Environments* {m(', '.join(summary['environments']))}\n"
            f"*Components* {m(', '.join(summary['components']))}\n"
            f"*Duration* {m(summary['duration'])}"
            + (f"\n*Message* {m(summary['message'])}" if summary["message"] else "")
        )
        if summary["outcomes"]:
            section("```" + m(_table_text(summary["outcomes"])) + "```")
        problems = _problem_lines(summary)
        if problems:
            section("*Failed and unreachable hosts*\n" + "\n".join(f"• {m(p)}" for p in problems))
        rollbacks = _rollback_lines(summary)
        if rollbacks:
            section("*Rollbacks*\n" + "\n".join(f"• {m(r)}" for r in rollbacks))
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _clip(f"Full history: `{m(summary['history_command'])}`"),
                }
            ],
        }
    )
    return {"text": m(title), "blocks": blocks}

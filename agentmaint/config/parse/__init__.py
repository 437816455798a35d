"""Build a typed `Schedule` from a schedule file or mapping, reporting every problem.

Validation runs in two passes that both always run, so that one invocation
reports everything: the JSON Schema (shapes, types, patterns), then the
semantics the schema cannot express (time zones, cron expressions, promotion
cycles, hosts listed twice, blackouts that end before they start, a cutoff
longer than its window). Semantic checks skip values the schema already
rejected.

The builder that turns a document into a `Schedule` is one class per section
of the file, composed in `document`:

* `document`: `load_schedule`, `validate_file`, `parse_schedule`, the whole
  document and the composed builder;
* `base`: the builder's problem list and the scalars (time zones, durations,
  instants) every section reads;
* `environments`: environments, their hosts, update windows and blackouts;
* `components`: components, their role arguments and health checks, backups;
* `execution`: ``execution`` and its execution nodes;
* `notification`: the notification section and its channels;
* `secrets`: secret fields (``${ENV}``, ``file:``), checked for form, resolved or kept
  as references (``resolve_secrets=False``), their variables remembered;
* `checks`: the cross-field checks (a host in one environment only, promotion
  cycles, execution nodes that exist).
"""

from agentmaint.config.parse.base import UTC
from agentmaint.config.parse.components import NAMED_FREQUENCIES
from agentmaint.config.parse.document import load_schedule, parse_schedule, validate_file
from agentmaint.config.parse.environments import DEFAULT_DURATION

__all__ = [
    "DEFAULT_DURATION",
    "NAMED_FREQUENCIES",
    "UTC",
    "load_schedule",
    "parse_schedule",
    "validate_file",
]

"""What a job must not inherit from the controller's environment: secrets."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from agentmaint.config.schedule import Schedule

__all__ = ["secret_environment"]

#: libpq's own secret variables: never passed to a job.
_LIBPQ_SECRETS = {"PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE"}


def secret_environment(schedule: Schedule) -> tuple[set[str], list[str]]:
    """Variable names that secrets were read from, and the secret values themselves.

    The runner adapter keeps both out of a job's environment (and so out of its
    artifacts): see `agentmaint.ansible.runner.run_job`.
    """
    found = (*schedule.notification.secrets(), *schedule.connection_secrets())
    values = [s.reveal() for s in found if s.reveal()]
    names = (
        set(schedule.notification.env_names)
        | set(schedule.history_env_names)
        | set(schedule.connection_env_names)
    )
    if schedule.history_url is not None:
        url = schedule.history_url.reveal()
        values.append(url)
        password = urlsplit(url).password
        if password:
            values += [password, unquote(password)]
        names |= _LIBPQ_SECRETS
    return names, values

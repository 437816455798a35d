"""Running agentmaint on a schedule: systemd timer units, a crontab, their installation.

`units` renders ``agentmaint-NAME.service`` and ``.timer`` from the calendar events of
`agentmaint.planning.calendar`; `crontab` the equivalent crontab lines; `install`
writes, enables and removes the units; `analyze` asks ``systemd-analyze calendar`` when
a timer will fire. The CLI's ``agentmaint timer`` commands sit on top.
"""

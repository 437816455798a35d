"""Ansible: the rendered inventory and plays, ansible-runner, events, roll-up.

Third and fourth stages of the pipeline: decisions become job directories, jobs run
through ansible-runner (on the controller or on execution nodes), and their events
become typed `TaskResult`s and per-host roll-up records.
"""

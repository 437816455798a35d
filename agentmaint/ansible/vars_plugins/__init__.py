"""Ansible plugins shipped with agentmaint (see `agentmaint.ansible.secrets`)."""

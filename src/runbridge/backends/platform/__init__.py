"""The orchagent.io platform family (docs/backends/platform.md): the public agent catalogue, the account's agents,
agent calls as runs, and the workspace's run history. `spec.py` is what runbridge reads at startup; the adapter is
imported on first use."""

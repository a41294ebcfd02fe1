"""The `incident-commander` command line: a surface for people at a terminal, like the Slack app and the notebook."""

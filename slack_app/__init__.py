"""Incident Commander in Slack: `/ic` runs a conversation in a thread; changes wait on approval cards.

`build_app` wires a Bolt app over a `Commander`; `server.SlackServer` serves it over ASGI (uvicorn)
and `server.socket_mode_handler` over Socket Mode; `cli.app` is the `slack` command group.
"""

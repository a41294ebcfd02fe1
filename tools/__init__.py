"""PagerDuty access for the agent: the HTTP client, the generated tool catalogue and the tool bodies."""

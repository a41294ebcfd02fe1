"""The incident-commander agent: the LangGraph graph, approvals, audit and the Commander facade."""

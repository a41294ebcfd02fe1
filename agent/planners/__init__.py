"""Chat models that plan the agent's tool calls: OpenAI, the offline command grammar, scripted replies."""

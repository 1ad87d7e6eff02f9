"""The LLM planner: an OpenAI-compatible chat endpoint writes plans in the one wire shape (planner/schema.py).

- config.py: flags and environment -> LLMConfig (the API key is read from the environment, never stored)
- client.py: the chat client: retries with backoff, timeouts, clear errors, record (llm.jsonl) and replay
- modes.py: output modes (json_schema, tools, json), the plan schema from the registry, reply parsing
- prompts.py: prompt templates (planner/prompts/*.md) and their rendering
- backend.py: LLMBackend (the graph's PlannerBackend) with the repair loop and the offline fallback
"""

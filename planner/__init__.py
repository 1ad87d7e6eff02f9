"""System 2: plan schema, the LangGraph planner graph, offline and LLM planners, prompts and recipes.

May import skills (the registry only, never an executor).
"""

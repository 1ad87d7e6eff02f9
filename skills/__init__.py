"""System 1: the skill registry, scripted controllers and learned/remote policies.

May import envs (the protocol and types only).
"""

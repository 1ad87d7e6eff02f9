"""The runtime that joins System 2 and System 1: control loop, dispatcher, monitors, run records, CLI.

May import planner, skills and envs.
"""

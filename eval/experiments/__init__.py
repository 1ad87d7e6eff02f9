"""Experiments: whole studies as one command (collect, train, evaluate, diagnose, report), configs as YAML.

May import everything (``eval`` sits on top); heavy dependencies (torch) are imported lazily.
"""

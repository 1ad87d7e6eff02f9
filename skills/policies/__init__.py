"""Learned and remote policies that return action chunks, run as executors off the control thread."""

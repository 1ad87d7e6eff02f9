"""Scripted System-1 arm skills for the G1 + Dex3: IK (mink) waypoints played as smooth joint paths."""

from skills.controllers.arm import HandExecutor, HoldExecutor, HomeExecutor, Unreachable
from skills.controllers.pick import PickExecutor

__all__ = ["HandExecutor", "HoldExecutor", "HomeExecutor", "PickExecutor", "Unreachable"]

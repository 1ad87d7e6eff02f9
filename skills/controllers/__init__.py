"""Scripted System-1 arm skills for the G1 + Dex3: IK (mink) waypoints played as smooth joint paths."""

from skills.controllers.arm import HandExecutor, HoldExecutor, HomeExecutor, Unreachable
from skills.controllers.pick import PickExecutor
from skills.controllers.place import PlaceExecutor
from skills.controllers.pour import PourExecutor

__all__ = [
    "HandExecutor",
    "HoldExecutor",
    "HomeExecutor",
    "PickExecutor",
    "PlaceExecutor",
    "PourExecutor",
    "Unreachable",
]

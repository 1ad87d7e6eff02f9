"""Chemistry semantics of the lab: liquids in containers, pouring by tilt, spills and reactions.

Pure numpy over poses the simulator hands in; the rules are data (rules.yaml).
"""

from envs.chemistry.liquids import Chemistry, ContainerPose, Surface
from envs.chemistry.rules import ChemistryRules, load_rules

__all__ = ["Chemistry", "ChemistryRules", "ContainerPose", "Surface", "load_rules"]

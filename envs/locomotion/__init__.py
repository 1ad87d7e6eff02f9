"""Locomotion backends behind the base-velocity interface: the holonomic base model or a learned walker.

A walker is an ONNX policy described by a YAML file (policies/*.yaml): its observation, command space,
rate and gains. Imports none of Tandem's other packages; onnxruntime is imported when a walker loads.
"""

from envs.locomotion.config import (
    DEFAULT_WALKER,
    Locomotion,
    LocomotionPolicyConfig,
    PolicyError,
    load_policy_config,
    parse_locomotion,
)

__all__ = [
    "DEFAULT_WALKER",
    "Locomotion",
    "LocomotionPolicyConfig",
    "PolicyError",
    "load_policy_config",
    "parse_locomotion",
]

"""The lab's skills, one per module; each module exposes SPEC."""

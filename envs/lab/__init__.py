"""The embedded MuJoCo lab: a G1 at stations built from a scene YAML, with chemistry."""

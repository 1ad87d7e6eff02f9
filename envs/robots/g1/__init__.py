"""The Unitree G1 with Dex3 hands, from mujoco-menagerie."""

"""The SO-ARM100 tabletop: a second embodiment (groups single_arm, gripper) behind the Env protocol,
built from menagerie's trs_so_arm100 with MjSpec, and its scripted IK expert for the block task."""

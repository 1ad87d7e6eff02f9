"""GR00T over its own wire: a client for Isaac-GR00T policy servers (N1.5 and N1.6), the embodiment
mappings, the chunk policy that runs it as a System-1 executor, and a server speaking the same protocol.

Imports envs (protocol types) and skills.policies only; torch is never needed on the client side.
"""

"""Robot models and their constants (joint groups, sites, hand poses)."""

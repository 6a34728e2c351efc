"""Use cases: commands on campaigns, the rerun processor, generators, settings and storage."""

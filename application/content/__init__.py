"""Content: accounts, customer profile fields, customers and customer groups.

Plain relational tables (they are content, not part of the rerun history); a run
snapshots its group's segments into ``RunStarted``.
"""

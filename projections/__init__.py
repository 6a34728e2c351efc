"""Read models: the SQL tables, the projectors that fill them exactly once, the queries."""

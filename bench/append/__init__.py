"""Append throughput of the campaign event store beside raw psycopg writing the same rows."""

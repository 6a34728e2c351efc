"""Webhooks: endpoints per account, an outbox filled from the event log, signed deliveries.

``schema`` (tables), ``endpoints`` (the API's use cases), ``events`` (log events as
payloads), ``follower`` (log -> outbox, exactly once), ``outbox`` (claims and results),
``sender`` (one signed POST), ``dispatcher`` (the background loop), ``urls`` (which
addresses may be called).
"""

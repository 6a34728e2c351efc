"""Pure domain model of campaign reruns: the Campaign aggregate, segments and rules.

Imports only the standard library and ``eventsourcing.domain``.
"""

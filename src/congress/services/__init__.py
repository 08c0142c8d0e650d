"""The services: the only place with threads, locks, transactions and retries.

May import every lower layer: congress.datalog, congress.common, congress.db, congress.bus and
congress.datasources.
"""

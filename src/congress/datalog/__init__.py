"""The Congress policy language and its engine.

Imports: standard library only. This package does no I/O, starts no threads and reads no clock
of its own (the clock is injected), so it can be tested, benchmarked and embedded alone.
"""

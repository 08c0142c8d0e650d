"""The datasource driver SDK and the drivers (DESIGN.md, layer "drivers").

Imports: standard library and congress.datalog (value types only); drivers may also import
congress.common and their service's client library. Never the bus, the database or the API:
drivers are plain objects with injected clients, and a host service runs them.

- ``translators``: typed translator specs that turn JSON-like objects into rows.
- ``driver``: ``Driver``, ``PollingDriver``, ``PushDriver`` (and ``ExecutionMixin`` from
  ``execution``, the actions registry and dotted client calls).
- ``options``: driver config options and their parsing.
- ``loader``: finding drivers through the entry point group ``congress.datasource.drivers``.
- ``errors``: the error hierarchy and its stable codes.
- ``doctor``, ``push``, ``vitrage``: drivers, one module each.
"""

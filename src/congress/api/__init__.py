"""The REST API v1: the WSGI application, its routes, wire types, error bodies and auth.

May import congress.services, congress.datalog (errors and syntax only) and congress.common.
"""

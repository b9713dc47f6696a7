"""The rs-preflight lab: real hosts and services on one machine, in network namespaces.

Used by the tests (session fixtures) and by a person (``scripts/lab up small``).
Every name the lab creates starts with its prefix (``RS_LAB_PREFIX``, default ``rsl``),
so teardown can pick its own victims and never touches anything else.
"""

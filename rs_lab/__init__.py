"""The rs-preflight lab: real hosts and services on one machine, in network namespaces.

Used by the tests (session fixtures) and by a person (``scripts/lab up small``).
Every name the lab creates starts with its prefix (``RS_LAB_PREFIX``, default ``rsl``),
so teardown can pick its own victims and never touches anything else. The lab does not import
the product it tests (``rs_lab.preflight`` runs ``python -m rs_preflight.cli`` as a user would).

The layers, bottom up:

* :mod:`rs_lab.netns` — namespaces on the lab bridge (no default route), processes by PID;
* :mod:`rs_lab.indices` — **who may use which index.** An index n is a place on the lab net
  (``10.<net>.0.n``, ``fd00:<net>::n``, veth ``<prefix>v<n>``). Nobody picks one by hand: a user
  takes a ``Lease`` from ``allocator()`` — one allocator per process and prefix, so one per test
  session — and asks it for indices (``take()``, contiguous ``block(n)``) or a scenario slot
  (``slot()``), and gives them all back at once (``release()``). Slot ranges (hosts 10–59, services
  180–219) are only handed out as slots; an index whose veth exists is never handed out. The tests
  lease per module (``tests/lab/conftest.py``: ``lab_lease``), per test (``lab_site``) and per
  session (the small site in slot 0, the NTP server); two modules cannot collide;
* :mod:`rs_lab.service` — **one base for every lab service** (``LabService``): ``ipv4``,
  ``ipv6``, ``addresses``; ``start()`` returns the service once it answers, ``stop()`` may be
  called any number of times, a context manager, ``startup_seconds``; processes ended by PID.
  Lab hosts (:class:`rs_lab.hosts.LabHost`) have the same addresses;
* the services: :mod:`rs_lab.hosts` (namespace "VMs" with sshd), ``ntp``, ``dns``, ``lb``,
  ``echo``, ``mail``, ``postgres``, ``patroni``, ``opensearch_standin`` (a STAND-IN, not
  OpenSearch), ``share``;
* :mod:`rs_lab.registry` — **the registry of starters**: each part of a scenario registers how it
  is started (when, after what, start, stop, its namespaces, its lines of ``site.yaml``);
* :mod:`rs_lab.scenario` — declarative sites (``Scenario``, overlays) and ``LabSite``, which
  walks the registry.
"""

"""The shipped rs-preflight checks: one module per area, each function registered for the
kind it verifies (``@pytest.mark.kind``; the kinds: ``rs_preflight/data/kinds.yaml``)."""

"""The shipped rs-preflight checks: one module per area, each function names its requirement."""

"""Judges: pure functions from facts and thresholds to a ``Verdict``, one module per noun."""

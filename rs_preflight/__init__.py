"""rs-preflight: pre-flight and compliance checks for R-Service installations (a pytest plugin).

The public API is small: load a site, read the catalogue, and the result types checks return.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

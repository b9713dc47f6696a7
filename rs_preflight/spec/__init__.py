"""The spec layer: what the site, the catalogue and the run ask for (no I/O to hosts)."""

"""The gather layer: host access, fact sections, network probes, the run's probe cache,
where to connect."""

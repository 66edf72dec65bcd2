"""From the broker to committed events: the ingest worker, chunk verification and commit, binding,
projections, rejects, status rules."""

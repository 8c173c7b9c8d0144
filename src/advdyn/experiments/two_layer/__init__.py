"""One result-producing experiment per group of two-layer claims (no verdicts here: the claims
are declared in :mod:`advdyn.claims.two_layer`)."""

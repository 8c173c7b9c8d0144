"""The ``advdyn`` command line: presentation only, every number comes from the library."""

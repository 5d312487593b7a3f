"""The ``movingcolor`` command line."""

"""`python -m profiler` is the `effprof` command."""

from .cli import entry_point

entry_point()

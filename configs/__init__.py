"""Data files shipped with effprof; installed as the package `profiler._configs` (see pyproject.toml)."""

"""Bundled hardware specs, one YAML file per device: `effprof hw list` shows them."""

"""Reproducible performance measurements: run each as `python -m bench.NAME` from the checkout."""

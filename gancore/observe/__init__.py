"""What a run looks like: fixed probes into frames, metrics, phenomenon detectors."""

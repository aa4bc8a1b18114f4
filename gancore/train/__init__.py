"""Networks, losses, remedies and the training step (no I/O)."""

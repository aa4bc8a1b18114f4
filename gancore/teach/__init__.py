"""Presets, classroom lessons and the mode-coverage protocol built on them."""

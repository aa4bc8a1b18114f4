"""ganscope's dashboard: Dash pages, the run registry and the frame stream (no tensor math)."""

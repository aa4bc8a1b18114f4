"""Recordings on disk and the library's summaries of them."""

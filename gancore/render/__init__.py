"""Recordings and frames turned into pictures and movies (GIF, MP4, PNG)."""

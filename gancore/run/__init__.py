"""A run in one object (session) and its process (worker): commands in, frames out."""

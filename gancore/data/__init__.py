"""Where the data comes from: target distributions and the user's own files."""

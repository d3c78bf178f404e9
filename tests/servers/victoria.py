"""Real-server fixture (being written)."""

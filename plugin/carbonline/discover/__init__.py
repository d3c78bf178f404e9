"""Onboarding: look at a plant's historian, broker or PLC, list the signals found, and draft a
plant.toml from them for the engineer to confirm (``carbonline discover``)."""

"""The one HTTP app of ``carbonline run`` (design brief §1)."""

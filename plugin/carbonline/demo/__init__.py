"""The embedded sample plant behind ``carbonline demo``: run the engine with no server at all."""

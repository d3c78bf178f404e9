"""``carbonline demo``: the simulated plant through the engine, as a live table; no server
needed."""

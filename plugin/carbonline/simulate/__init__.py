"""A deterministic FMCG plant that behaves like a factory: meters, counters, context and a grid
signal, with scenario faults and their labelled ground truth (``carbonline simulate``)."""

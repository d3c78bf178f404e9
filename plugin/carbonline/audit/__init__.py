"""The audit ledger: every emitted window revision recorded with its meter deltas, factors and
provenance in a hash-chained file, checked by ``carbonline audit verify`` and traced by
``carbonline audit explain``."""

"""Pure decisions, written once: no I/O, no clock, no randomness, no async."""

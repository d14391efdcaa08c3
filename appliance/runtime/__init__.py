"""The runtime: one process serving every protocol over shared AAA, filesystem and events."""

"""The HTTP layer: one Chalice blueprint per capability, request parsing, and the one table that maps
domain errors to status codes. Nothing below this package knows about HTTP."""

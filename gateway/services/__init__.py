"""Service layer: every business rule lives here; routes and CLI commands call these functions."""

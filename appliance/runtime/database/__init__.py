"""Shared databases: PostgreSQL connections from [resources/<id>] and versioned migrations."""

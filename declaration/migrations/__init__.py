"""Alembic migrations; run them with ``declaration db upgrade``."""

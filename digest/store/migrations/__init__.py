"""Alembic migrations, shipped inside the package so no alembic.ini is needed.

``env.py`` runs on a connection handed over by ``digest.store.revision`` (never a URL of its
own); ``versions/`` holds one file per schema change, 0001 being the schema as it was when
migrations were introduced. ``python -m digest.store.migrations revision -m "..."`` drafts the
next one (see README, "Adding a migration").
"""

"""The web app's fixtures (a site with an editor, a stored draft, an in-process client), so the
entry points of tests/web can be attacked here too; tests/conftest.py gives ``db`` and ``site``
on SQLite and PostgreSQL."""

from tests.web.conftest import (  # noqa: F401  (fixtures are found by name)
    app,
    client,
    draft,
    editor,
    editor_hash,
    subscribed,
    web_config,
    web_db,
    webhook_key,
)

"""The commands print English here whatever the machine's locale: the tests read the wording.

A test of another language sets LANG (or DIGEST_LANG) itself; subprocesses inherit this.
"""

import pytest


@pytest.fixture(autouse=True)
def english_locale(monkeypatch):
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "DIGEST_LANG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")

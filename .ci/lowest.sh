#!/usr/bin/env bash
# CI: the lowest versions pyproject.toml allows for digest's own (direct) dependencies, then the
# same tests as .ci/run. A lower bound that is not true fails here, not on a user's machine.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v uv >/dev/null || python3 -m pip install --quiet uv
rm -rf .venv-lowest
uv venv -q --python python3 .venv-lowest
# lowest-direct: each dependency named in pyproject.toml at its lower bound; what those need
# resolves normally (their own lower bounds are not ours to prove).
VIRTUAL_ENV=.venv-lowest uv pip install -q --resolution lowest-direct -e '.[test]'
VIRTUAL_ENV=.venv-lowest uv pip list

DIGEST_TEST_POSTGRES_URL="$(bash .ci/postgres.sh)"  # not "export X=$(...)": that hides a failure
export DIGEST_TEST_POSTGRES_URL

if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

.venv-lowest/bin/python -m pytest -q

#!/usr/bin/env bash
# CI: a normal install works without the repository.
#
# Builds the wheel from a copy of the source, installs it (with its dependencies, from the
# package registry) in a fresh venv in a temporary folder, then, from a temporary folder
# outside the checkout: `digest init site`, `digest build` of the sample edition, a subscriber
# import and an outbox send, checking what each one wrote. Needs python3 with venv and pip.
#
#   bash .ci/wheel.sh            # PYTHON=python3.12 bash .ci/wheel.sh for another Python
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
NOW=2025-07-01T08:00:00+01:00
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
log() { echo "wheel.sh: $*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

# Build from a copy: an in-place build leaves build/ in the checkout, and a stale build/ can
# put files deleted since into the wheel.
mkdir "$WORK/src"
tar -C "$ROOT" --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude=.pytest_cache --exclude=./var \
    --exclude=./out --exclude=./outbox -cf - . | tar -C "$WORK/src" -xf -

log "building the wheel"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --upgrade pip
"$WORK/venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" "$WORK/src"
wheels=("$WORK"/dist/digest-*.whl)
[[ ${#wheels[@]} == 1 && -f "${wheels[0]}" ]] || fail "expected one wheel in $WORK/dist"
log "installing ${wheels[0]##*/} in a fresh venv"
"$WORK/venv/bin/python" -m pip install --quiet "${wheels[0]}"
rm -rf "$WORK/src"  # nothing may be read from the source any more

# Outside the checkout, with nothing of the caller's environment pointing back into it.
mkdir "$WORK/run"
cd "$WORK/run"
unset VIRTUAL_ENV PYTHONPATH DIGEST_CONFIG DIGEST_DATABASE_URL DIGEST_SECRET_KEY
export PATH="$WORK/venv/bin:$PATH"

where="$(python -c 'import digest; print(digest.__file__)')"
[[ "$where" == "$WORK/venv/"* ]] || fail "digest was imported from $where, not the venv"
digest --version | grep -E '^digest [0-9][^ ]* \(tzdata [0-9]+\.[0-9]+, IANA [0-9]{4}[a-z]+, Python [0-9.]+\)$' \
    || fail "digest --version"

python - <<'PY' || fail "the compiled translations"
from importlib.resources import files

from digest.i18n import translations

for lang in ("fr", "ar"):
    mo = files("digest") / "locales" / lang / "LC_MESSAGES" / "digest.mo"
    assert mo.is_file(), f"the wheel lacks {lang}'s compiled catalog"
assert translations("fr").gettext("Unsubscribe") == "Se désabonner"
PY

digest init site
cd site
for f in digest.toml templates/email.mjml.j2 templates/email.txt.j2 samples/homepage-fr.txt \
        subscribers/matinale-example.csv; do
    [[ -s "$f" ]] || fail "digest init did not write $f"
done
digest build --now "$NOW" --source samples/homepage-fr.txt
python - <<'PY' || fail "the sample edition"
import html
import json
from pathlib import Path

edition = json.loads(Path("out/edition.json").read_text(encoding="utf-8"))
assert edition["id"] == "matinale-2025-07-01", edition["id"]
assert len(edition["ticker"]) == 9 and len(edition["featured"]) == 1, edition

def words(name):  # the text part wraps its lines
    return " ".join(html.unescape(Path(name).read_text(encoding="utf-8")).split())

for name in ("out/edition.html", "out/edition.txt"):
    for story in (edition["featured"][0], edition["ticker"][0]):
        assert story["title"] in words(name), (name, story["title"])
PY

digest subscribers import subscribers/matinale-example.csv --list matinale
digest send --list matinale --backend outbox --now "$NOW" --out outbox
count="$(find outbox -name '*.eml' | wc -l)"
[[ "$count" -ge 1 ]] || fail "digest send wrote no message"
log "ok: the installed wheel built the sample edition and sent $count messages to the outbox"

"""A normal install: the wheel carries everything digest reads at run time, `digest init` gives
a site that builds on its own, one version behind --version, and a missing extra is named.

The wheel test builds and installs for real (uv when it is there, else venv + pip, which needs
the package registry); .ci/wheel.sh does the same from the shell, the way CI calls it.
"""

import filecmp
import json
import os
import platform
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
import tzdata

from digest.resources import STARTER_FILES
from tests.conftest import ROOT, SAMPLE, SAMPLE_NOW, SITE_TOML, SQLITE_URL

PYPROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
# What a build is made from: the checkout without its local state.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    "var",
    "out",
    "outbox",
)


def clean_env(**extra):
    """The environment without anything that points back into the checkout or the test venv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
        and not k.startswith(("DIGEST_", "SENDGRID_"))
    }
    env.update(extra)
    return env


def run(command, *, cwd, env=None, check=True):
    proc = subprocess.run(
        command, cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=600
    )
    if check:
        assert proc.returncode == 0, f"{command}: {proc.stdout}\n{proc.stderr}"
    return proc


def digest(*args, cwd, check=True):
    return run([sys.executable, "-m", "digest", *args], cwd=cwd, check=check)


def files_under(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


# --- version -------------------------------------------------------------------------------


def test_version_names_digest_tzdata_and_python(tmp_path):
    proc = digest("--version", cwd=tmp_path)
    assert proc.stdout == (
        f"digest {PYPROJECT_VERSION} (tzdata {version('tzdata')}, "
        f"IANA {tzdata.IANA_VERSION}, Python {platform.python_version()})\n"
    )


def test_one_version_everywhere():
    import digest as package
    from digest.config import USER_AGENT

    assert package.__version__ == PYPROJECT_VERSION == version("digest")
    assert USER_AGENT.startswith(f"digest/{PYPROJECT_VERSION} ")


# --- digest init ---------------------------------------------------------------------------


def test_init_writes_a_site_that_builds_with_its_own_templates(tmp_path):
    proc = digest("init", "site", cwd=tmp_path)
    site = tmp_path / "site"
    assert "cd site" in proc.stdout and f"digest build --now {SAMPLE_NOW}" in proc.stdout
    # The repository's files, unchanged: its digest.toml works as it is in the new folder.
    assert files_under(site / "templates") == files_under(ROOT / "templates")
    for name in [*STARTER_FILES, *(f"templates/{n}" for n in files_under(ROOT / "templates"))]:
        assert filecmp.cmp(site / name, ROOT / name, shallow=False), name

    # The copy is the site's to change: an edit shows in the next edition.
    text_template = site / "templates" / "email.txt.j2"
    text_template.write_text(
        text_template.read_text(encoding="utf-8") + "\nMARK-OF-THIS-SITE\n", encoding="utf-8"
    )
    digest("build", "--now", SAMPLE_NOW, cwd=site)  # its digest.toml, its sample source
    edition = json.loads((site / "out" / "edition.json").read_text(encoding="utf-8"))
    assert edition["id"] == "matinale-2025-07-01"
    assert len(edition["ticker"]) == 9 and len(edition["featured"]) == 1
    assert "MARK-OF-THIS-SITE" in (site / "out" / "edition.txt").read_text(encoding="utf-8")
    assert (site / "var" / "digest.db").is_file()  # state stays inside the site


def test_init_refuses_a_folder_that_is_not_empty(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "notes.txt").write_text("mine", encoding="utf-8")
    proc = digest("init", str(site), cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not empty" in proc.stderr and "--force" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(os.listdir(site)) == ["notes.txt"]

    digest("init", "--force", str(site), cwd=tmp_path)
    assert (site / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (site / "digest.toml").is_file() and (site / "templates" / "email.mjml.j2").is_file()


def test_init_onto_a_file_is_a_usage_error(tmp_path):
    (tmp_path / "site").write_text("", encoding="utf-8")
    proc = digest("init", "site", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "site" in proc.stderr


# --- where the templates come from ---------------------------------------------------------


def test_templates_dir_defaults_to_the_installed_templates_and_a_config_overrides(tmp_path):
    from digest.config import load_config

    path = tmp_path / "digest.toml"
    toml = SITE_TOML.format(locale="fr", sample=SAMPLE, database_url=SQLITE_URL)
    path.write_text(toml, encoding="utf-8")
    # This test venv has an editable install: the default is the checkout's own templates/.
    assert load_config(path, env={}).templates_dir == ROOT / "templates"
    path.write_text('templates_dir = "mine"\n' + toml, encoding="utf-8")
    assert load_config(path, env={}).templates_dir == tmp_path / "mine"


def test_the_wheel_copy_wins_over_a_folder_beside_the_package(tmp_path, monkeypatch):
    import digest.resources as resources
    from digest.errors import DigestError

    package = tmp_path / "site-packages" / "digest"
    package.mkdir(parents=True)
    monkeypatch.setattr(resources, "files", lambda name: package)
    with pytest.raises(DigestError, match="templates are missing .* reinstall digest"):
        resources.default_templates()

    foreign = tmp_path / "site-packages" / "templates"  # another distribution's folder
    foreign.mkdir()
    (foreign / "email.mjml.j2").write_text("", encoding="utf-8")
    shipped = package / "_data" / "templates"
    shipped.mkdir(parents=True)
    (shipped / "email.mjml.j2").write_text("", encoding="utf-8")
    assert resources.default_templates() == shipped


# --- extras --------------------------------------------------------------------------------


def test_postgresql_without_the_extra_names_it(site, tmp_path, monkeypatch, capsys):
    from digest.cli import main
    from digest.errors import StoreError
    from digest.store.db import open_database

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    url = "postgresql://digest:s3cret@127.0.0.1:1/digest"
    with pytest.raises(StoreError, match=r"postgres extra: pip install 'digest\[postgres\]'"):
        open_database(url)

    monkeypatch.setenv("DIGEST_DATABASE_URL", url)
    monkeypatch.setattr(sys, "argv", ["digest", "editions", "--config", str(site)])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 1
    message = " ".join(capsys.readouterr().err.split())
    assert "pip install 'digest[postgres]'" in message  # the brackets are text, not markup
    assert "s3cret" not in message


def test_screenshots_without_the_extra_name_it(tmp_path, monkeypatch):
    from digest.errors import DigestError
    from digest.web.screenshot import screenshot

    monkeypatch.setitem(sys.modules, "playwright", None)
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    with pytest.raises(DigestError, match=r"pip install 'digest\[screenshots\]'"):
        screenshot("<p>x</p>", tmp_path / "shots", "x")
    assert not (tmp_path / "shots").exists()


def test_the_test_extra_pulls_in_the_optional_parts():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith(("psycopg", "playwright")) for d in project["dependencies"])
    assert "digest[postgres,screenshots]" in project["optional-dependencies"]["test"]


# --- the wheel, installed outside the checkout ---------------------------------------------


def build_and_install(tmp_path: Path) -> tuple[Path, Path]:
    """The wheel built from a copy of the source, installed in a fresh venv: (wheel, venv)."""
    source, dist, venv = tmp_path / "src", tmp_path / "dist", tmp_path / "venv"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    uv = shutil.which("uv")
    if uv:
        # The sdist first, then the wheel from it, as an index would get them.
        run([uv, "build", "--quiet", "--out-dir", str(dist), str(source)], cwd=tmp_path)
        run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=tmp_path)
    else:
        run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
        run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--wheel-dir",
                str(dist),
                str(source),
            ],
            cwd=tmp_path,
        )
    [wheel] = dist.glob("digest-*.whl")
    if uv:
        run(
            [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(wheel)],
            cwd=tmp_path,
        )
    else:
        run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
            cwd=tmp_path,
        )
    shutil.rmtree(source)  # nothing may be read from it any more
    return wheel, venv


def test_the_wheel_works_outside_the_checkout(tmp_path):
    wheel, venv = build_and_install(tmp_path)

    with zipfile.ZipFile(wheel) as zf:
        shipped = {n for n in zf.namelist() if not n.endswith(".py") and "dist-info" not in n}
    # Every file the package reads at run time: the web app's templates and anything else
    # inside digest/ that is not Python, and the top-level templates/ and starter site.
    wanted = {f"digest/{n}" for n in files_under(ROOT / "digest") if not n.endswith(".py")}
    wanted |= {f"digest/_data/templates/{n}" for n in files_under(ROOT / "templates")}
    wanted |= {f"digest/_data/{n}" for n in STARTER_FILES}
    assert wanted <= shipped, sorted(wanted - shipped)
    # The catalogs compiled by the build (a checkout holds only the .po files).
    for lang in ("fr", "ar", "en"):
        assert f"digest/locales/{lang}/LC_MESSAGES/digest.mo" in shipped, lang

    work = tmp_path / "work"
    work.mkdir()
    env = clean_env(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    bin_digest = str(venv / "bin" / "digest")
    where = run(
        [str(venv / "bin" / "python"), "-c", "import digest; print(digest.__file__)"],
        cwd=work,
        env=env,
    ).stdout
    assert where.startswith(str(venv)), where
    # The installed package reads its compiled catalogs.
    check = (
        "from digest.i18n import LOCALES_DIR, translations; "
        "print((LOCALES_DIR / 'ar/LC_MESSAGES/digest.mo').is_file(), "
        "translations('ar').gettext('Unsubscribe'))"
    )
    translated = run([str(venv / "bin" / "python"), "-c", check], cwd=work, env=env).stdout
    assert translated.strip() == "True إلغاء الاشتراك", translated
    assert run([bin_digest, "--version"], cwd=work, env=env).stdout.startswith(
        f"digest {PYPROJECT_VERSION} (tzdata "
    )

    run([bin_digest, "init", "site"], cwd=work, env=env)
    site = work / "site"
    run(
        [bin_digest, "build", "--now", SAMPLE_NOW, "--source", "samples/homepage-fr.txt"],
        cwd=site,
        env=env,
    )
    edition = json.loads((site / "out" / "edition.json").read_text(encoding="utf-8"))
    assert edition["id"] == "matinale-2025-07-01"
    assert len(edition["ticker"]) == 9 and len(edition["featured"]) == 1
    html = (site / "out" / "edition.html").read_text(encoding="utf-8")
    assert '<html lang="fr" dir="ltr"' in html and edition["featured"][0]["title"] in html

    # A config without templates_dir renders with the templates inside the installed package.
    config = site / "digest.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace('templates_dir = "templates"', ""),
        encoding="utf-8",
    )
    shutil.rmtree(site / "templates")
    run([bin_digest, "build", "--now", SAMPLE_NOW, "--out", "again"], cwd=site, env=env)
    assert (site / "again" / "edition.html").read_text(encoding="utf-8") == html

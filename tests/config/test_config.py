import pytest

from digest.config import load_config
from digest.errors import ConfigError

GOOD = """
[site]
name = "Site"
url = "https://example.com"
timezone = "Africa/Casablanca"
locale = "fr"
postal_address = "1 rue X, Casablanca"
public_url = "https://example.com/digest/"

[sender]
email = "news@example.com"

[database]
url = "sqlite:///state/d.db"

[[sources]]
name = "home"
path = "home.txt"
"""


def write(tmp_path, text):
    path = tmp_path / "digest.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    path = write(tmp_path, GOOD)
    monkeypatch.chdir("/")
    config = load_config(path, env={})
    assert config.sources[0].location == str(tmp_path / "home.txt")
    assert config.database_url == f"sqlite:///{tmp_path}/state/d.db"
    assert config.state_dir == tmp_path / "state"
    assert config.site.public_url == "https://example.com/digest"


def test_lookup_order_explicit_then_env_then_cwd(tmp_path, monkeypatch):
    write(tmp_path, GOOD)
    other = tmp_path / "other.toml"
    other.write_text(GOOD.replace('name = "Site"', 'name = "Other"'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_config(env={}).site.name == "Site"
    assert load_config(env={"DIGEST_CONFIG": str(other)}).site.name == "Other"
    assert (
        load_config(tmp_path / "digest.toml", env={"DIGEST_CONFIG": str(other)}).site.name == "Site"
    )


def test_environment_supplies_secrets_and_overrides(tmp_path):
    env = {
        "DIGEST_DATABASE_URL": "postgresql+psycopg://u@localhost/d",
        "SENDGRID_API_KEY": "SG.secret",
        "DIGEST_SECRET_KEY": "k" * 40,
        "SENDGRID_API_HOST": "https://api.eu.sendgrid.com/",
    }
    config = load_config(write(tmp_path, GOOD), env=env)
    assert config.database_url == env["DIGEST_DATABASE_URL"]
    assert config.sendgrid.api_host == "https://api.eu.sendgrid.com"
    assert config.sendgrid.api_key == "SG.secret"
    assert "SG.secret" not in repr(config) and "k" * 40 not in repr(config)


@pytest.mark.parametrize(
    "change, key, words",
    [
        (
            ('timezone = "Africa/Casablanca"', 'timezone = "Mars/Olympus"'),
            "site.timezone",
            "unknown IANA time zone",
        ),
        (('locale = "fr"', 'locale = "xx_YY_ZZ"'), "site.locale", "unknown locale"),
        (('postal_address = "1 rue X, Casablanca"', ""), "site.postal_address", "required"),
        (
            ('email = "news@example.com"', 'email = "news@example.com\\r\\nBcc: x@y"'),
            "sender.email",
            "plain email",
        ),
        (
            ('path = "home.txt"', 'path = "home.txt"\nrole = "sidebar"'),
            "sources.home.role",
            "'ticker' or 'featured'",
        ),
        (("[database]", '[database]\nurll = "x"'), None, "unknown key(s) in [database]: urll"),
        (('name = "home"', 'name = "home"\nurl = "https://x"'), "sources.home", "exactly one"),
    ],
)
def test_bad_config_names_file_key_and_reason(tmp_path, change, key, words):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert str(path) in message and words in message
    if key:
        assert f"key '{key}'" in message


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[site\nname="), env={})


def test_project_config_loads():
    from pathlib import Path

    config = load_config(Path(__file__).resolve().parents[2] / "digest.toml", env={})
    assert config.site.timezone == "Africa/Casablanca" and config.site.locale == "fr"
    assert config.site.postal_address and config.sender.email


def test_typed_sections_read_every_key_with_its_type(tmp_path):
    text = (
        GOOD
        + """
[edition]
window_hours = 36
subject = "{site} {date}"
[delivery]
rate_per_second = 10
max_retries = 2
[sendgrid]
sandbox = true
asm_group_id = 42
[smtp]
security = "tls"
"""
    )
    config = load_config(write(tmp_path, text), env={"DIGEST_SMTP_PASSWORD": "pw"})
    assert config.edition.window_hours == 36.0 and config.edition.ticker_max == 30
    assert config.delivery.rate_per_second == 10.0 and config.delivery.max_retries == 2
    assert config.sendgrid.sandbox is True and config.sendgrid.asm_group_id == 42
    assert (config.smtp.port, config.smtp.password) == (465, "pw")
    bad = write(tmp_path, GOOD + '\n[delivery]\nmax_retries = "3"\n')
    with pytest.raises(ConfigError, match="delivery.max_retries.*must be int, not str"):
        load_config(bad, env={})


HASH = "scrypt$16384$8$1$c2FsdA$aGFzaA"


def test_editors_plain_entries_are_editors_and_a_table_can_make_an_admin(tmp_path):
    text = (
        GOOD
        + f'\n[editors]\nkarim = "{HASH}"\n[editors.amina]\npassword = "{HASH}"\nrole = "admin"\n'
    )
    config = load_config(write(tmp_path, text), env={})
    assert dict(config.editors) == {"karim": HASH, "amina": HASH}
    assert dict(config.editor_roles) == {"karim": "editor", "amina": "admin"}


@pytest.mark.parametrize(
    "entry, key, message",
    [
        ('[editors.amina]\npassword = "x"', "editors.amina.password", "password hash"),
        (f'[editors.amina]\npassword = "{HASH}"\nrole = "owner"', "editors.amina.role", "'admin'"),
        ('[editors.amina]\nrole = "admin"', "editors.amina.password", "is required"),
        (f'[editors.amina]\npassword = "{HASH}"\nrol = "admin"', "editors.amina", "unknown key"),
    ],
)
def test_a_bad_editor_entry_names_its_key(tmp_path, entry, key, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, GOOD + "\n" + entry + "\n"), env={})
    assert key in str(caught.value) and message in str(caught.value)

"""Sources read at once under one deadline: loopback feeds that answer slowly or never.
No timing assertions but generous bounds ("before the hung server's sleep ended")."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from digest.config import SourceConfig, load_config
from digest.edition.build import build_edition
from digest.errors import ConfigError
from digest.models import SourceResult
from digest.sources import Fetcher, read_sources
from digest.sources.gather import gather
from tests.conftest import ROOT, SAMPLE_NOW
from tests.sources.conftest import CASABLANCA, REFERENCE
from tests.sources.slow_feeds import SlowFeeds

HANG = 60.0  # how long the hung feed would hold the request


def feed(name, url, timeout=HANG * 2):
    return SourceConfig(name=name, kind="rss", location=url, timeout=timeout, allow_private=True)


def read(configs, deadline):
    with Fetcher("digest-test/1.0") as fetcher:
        return read_sources(
            configs,
            reference_time=REFERENCE,
            tz=CASABLANCA,
            site_url="https://www.example.ma",
            fetcher=fetcher,
            deadline=deadline,
        )


def test_results_come_in_the_configured_order_whatever_finishes_first():
    with SlowFeeds() as feeds:
        # The first configured answers last.
        configs = [feed(n, feeds.url(n, delay=0.05 * (5 - i))) for i, n in enumerate("abcde")]
        results = read(configs, deadline=HANG)
        assert sorted(feeds.requests) == list("abcde")
    assert [r.name for r in results] == list("abcde")
    assert all(r.ok for r in results), [r.error for r in results]
    assert [r.stories[0].title for r in results] == [f"Story {n}" for n in "abcde"]


def test_a_hung_source_is_reported_and_skipped_at_the_deadline():
    with SlowFeeds(hang_seconds=HANG) as feeds:
        configs = [
            feed("a", feeds.url("a", delay=0.05)),
            feed("stuck", feeds.url("s", hang=True)),
            feed("c", feeds.url("c")),
        ]
        started = time.monotonic()
        results = read(configs, deadline=1.0)
        elapsed = time.monotonic() - started
    assert elapsed < HANG / 2  # long before the hung server would have answered
    assert [r.name for r in results] == ["a", "stuck", "c"]
    assert results[0].ok and results[2].ok
    assert not results[1].ok
    assert "gathering deadline of 1 s (edition.gather_timeout)" in results[1].error


def test_the_per_source_timeout_still_applies_inside_the_deadline():
    with SlowFeeds(hang_seconds=HANG) as feeds:
        configs = [feed("stuck", feeds.url("s", hang=True), timeout=0.5), feed("b", feeds.url("b"))]
        results = read(configs, deadline=HANG)
    assert "timed out after 0.5 s" in results[0].error and results[1].ok


def test_more_sources_than_workers_are_all_read_in_order():
    calls = []

    def read_one(cfg):
        calls.append(cfg.name)
        return SourceResult(name=cfg.name)

    configs = [SourceConfig(name=f"s{i}", kind="rss", location="x") for i in range(7)]
    results = gather(configs, read_one, deadline=None, workers=2)
    assert [r.name for r in results] == [f"s{i}" for i in range(7)] and sorted(calls) == sorted(
        r.name for r in results
    )
    assert gather([], read_one, deadline=1) == []


def test_a_reader_that_raises_fails_its_source_only():
    def read_one(cfg):
        if cfg.name == "bad":
            raise RuntimeError("boom")
        return SourceResult(name=cfg.name)

    configs = [SourceConfig(name=n, kind="rss", location="x") for n in ("ok", "bad")]
    ok, bad = gather(configs, read_one, deadline=5)
    assert ok.ok and "RuntimeError: boom" in bad.error


def test_build_goes_on_without_the_hung_source(tmp_path):
    with SlowFeeds(hang_seconds=HANG) as feeds:
        text = (
            (ROOT / "digest.toml")
            .read_text(encoding="utf-8")
            .replace('templates_dir = "templates"', f'templates_dir = "{ROOT / "templates"}"')
            .replace(
                'path = "samples/homepage-fr.txt"', f'path = "{ROOT / "samples/homepage-fr.txt"}"'
            )
        )
        text = text.replace("[edition]\n", "[edition]\ngather_timeout = 1.5\n", 1)
        text += (
            f'\n[[sources]]\nname = "stuck"\nkind = "rss"\nurl = "{feeds.url("s", hang=True)}"'
            f"\nallow_private = true\ntimeout = {HANG * 2:g}\n"
        )
        site = tmp_path / "digest.toml"
        site.write_text(text, encoding="utf-8")
        config = load_config(site, env={})
        assert config.edition.gather_timeout == 1.5
        started = time.monotonic()
        built = build_edition(config, list_name="matinale", now=datetime.fromisoformat(SAMPLE_NOW))
        assert time.monotonic() - started < HANG / 2
    assert built.edition.ticker or built.edition.featured
    assert any("stuck" in w and "gathering deadline" in w for w in built.edition.warnings)


def test_gather_timeout_must_be_positive(tmp_path):
    site = tmp_path / "digest.toml"
    site.write_text(
        (ROOT / "digest.toml")
        .read_text(encoding="utf-8")
        .replace("[edition]\n", "[edition]\ngather_timeout = 0\n", 1),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="gather_timeout"):
        load_config(site, env={})

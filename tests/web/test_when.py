from datetime import UTC, datetime

from digest.web.when import When, spell

AT = datetime(2026, 12, 2, 6, 35, 56, 836169, tzinfo=UTC)


def test_a_utc_time_is_spelled_in_the_site_zone_and_the_page_language():
    assert spell(AT, "Africa/Casablanca", "fr", "HH:mm") == "07:35"  # UTC+1 in 2026
    assert "déc." in spell(AT, "Africa/Casablanca", "fr")
    assert "Dec" in When("Africa/Casablanca", "en")(AT) and "+00:00" not in When("UTC", "en")(AT)
    assert spell(None, "UTC", "en") == ""

"""Secrets stay secret: no password from base_url on screen, in doctor output or in any log line."""

from __future__ import annotations

import pytest

from kiosk.connectors.base import redact_url
from kiosk.connectors.http import split_credentials


@pytest.mark.parametrize(("url", "shown"), [
    ("http://host:8080/x", "http://host:8080/x"),
    ("http://user:pa55@host/x", "http://***@host/x"),
    ("https://user:p@ss@host:1/x?y=a@b", "https://***@host:1/x?y=a@b"),
    ("http://user:pa55@[::1", "http://***@[::1"),  # does not parse, still redacted
])
def test_redact_url_hides_userinfo_even_in_urls_that_do_not_parse(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_split_credentials_moves_userinfo_into_a_basic_header() -> None:
    assert split_credentials("http://us%40er:p%3Ass@host:8080/api") == ("http://host:8080/api",
                                                                        "Basic dXNAZXI6cDpzcw==")
    assert split_credentials("http://host/api") == ("http://host/api", None)

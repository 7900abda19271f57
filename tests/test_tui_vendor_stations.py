"""The packaging line (Movilitas) and the print station (Scantrust) on the Textual screen,
at 80×24 and 120×40, against their simulators over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tuikit import kiosk, panel, scan, shows, until

from kiosk.config import Config, load_config
from kiosk.simulators import movilitas, scantrust
from kiosk.simulators.server import SimServer
from kiosk.tui.screens import AttentionScreen

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def urls() -> Iterator[tuple[movilitas.MovilitasSim, str, str]]:
    pack = movilitas.MovilitasSim()
    with SimServer(pack) as pack_server, SimServer(scantrust.ScantrustSim()) as print_server:
        yield pack, pack_server.url, print_server.url


def config(folder: Path, pack_url: str, print_url: str, profile: str) -> Config:
    (folder / "m-token").write_text(movilitas.DEMO_TOKEN + "\n", encoding="utf-8")
    (folder / "m-key").write_text(movilitas.DEMO_CHANNEL_KEY + "\n", encoding="utf-8")
    (folder / "s-token").write_text(scantrust.DEMO_TOKEN + "\n", encoding="utf-8")
    path = folder / "kiosk.toml"
    path.write_text(f"""
[kiosk]
profile = "{profile}"
journal = "journal.sqlite3"

[backends.pack]
vendor = "movilitas"
base_url = "{pack_url}"
token_file = "m-token"
channel_key_file = "m-key"

[backends.print]
vendor = "scantrust"
base_url = "{print_url}"
token_file = "s-token"
substrate = 74
equipment = 214

[[profiles]]
name = "PACK"
backend = "pack"
station = "LINE1"
action = "release-to-line"

[[profiles]]
name = "PRINT"
backend = "print"
station = "PRESS1"
action = "printer-confirm"
""", encoding="utf-8")
    return load_config(path)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_packaging_line_screen(urls, tmp_path: Path, size: tuple[int, int]) -> None:
    pack, pack_url, print_url = urls
    async with kiosk(config(tmp_path, pack_url, print_url, "PACK"), size=size) as (app, pilot):
        await scan(pilot, "Order143")
        await until(pilot, lambda: app.results)
        await pilot.pause()
        assert panel(app).style_name == "-ok"
        assert app.results[-1].title == "Packaging order released"
        assert shows(app, "Packaging order Order143") and shows(app, "Serial numbers assigned 11")
        assert shows(app, "Status In progress")

        await scan(pilot, "CMD:SERIALS")
        await until(pilot, lambda: len(app.results) == 2)
        await pilot.pause()
        serials = pack.events()[0]["serials"]
        assert app.results[-1].title == "Serial numbers of the last release"
        assert all(shows(app, serial) for serial in serials)

        await scan(pilot, "Order153")
        await until(pilot, lambda: isinstance(app.screen, AttentionScreen))
        await pilot.pause()
        assert app.screen.has_class("-rejected")
        assert shows(app, "Packaging order Order153 is in status: Done")
        assert shows(app, "must be in Pending release status")
        await pilot.press("enter")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_print_station_screen(urls, tmp_path: Path, size: tuple[int, int]) -> None:
    _, pack_url, print_url = urls
    async with kiosk(config(tmp_path, pack_url, print_url, "PRINT"), size=size) as (app, pilot):
        await scan(pilot, "5094")
        await until(pilot, lambda: app.results)
        await pilot.pause()
        assert panel(app).style_name == "-ok"
        assert app.results[-1].title == "Work order confirmed: codes generating"
        assert shows(app, "Work order 5094") and shows(app, "State new")
        assert shows(app, "Codes generating (6)") and shows(app, "Codes file not yet")

        await scan(pilot, "9999")
        await until(pilot, lambda: isinstance(app.screen, AttentionScreen))
        await pilot.pause()
        assert shows(app, "Work order not found") and shows(app, "Scantrust has no work order 9999")
        await pilot.press("enter")

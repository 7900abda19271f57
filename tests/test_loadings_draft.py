"""The loading draft, step by step (pure): references, items, quantities, serials, undo, cancel,
rename, submit and settle, with an injected clock; and properties over random scan sequences."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.connectors.base import BadAnswer, Done, LocalReply, Rejected, Request, State, Step, Unreachable
from kiosk.connectors.loadings import (
    SHOWN_LINES,
    STORED_BEFORE,
    ItemUnit,
    LoadingsConfig,
    draft_of,
    settle,
    show,
    step,
)

CRATE, ROUTER, PALLET = "09506000134352", "09506000134369", "09506000134376"
UNITS: Mapping[str, ItemUnit] = LoadingsConfig.model_validate({
    "vendor": "loadings", "base_url": "http://x",
    "item_units": {CRATE: {"id": 1, "name": "Crate"}, ROUTER: {"id": 2, "name": "Router"}, PALLET: 3}}).item_units
PARAMS: dict[str, Any] = {"warehouse": 7, "type": 1, "reason": 2, "serial_prefix": "SN-"}


def scan(text: str, gs1: Mapping[str, str] | None = None, **params: Any) -> Request:
    command = argument = None
    if text.startswith("CMD:"):
        command, _, rest = text[4:].partition(":")
        argument = rest if ":" in text[4:] else None
    return Request("loading", "DOCK-1", text, "OP1", "DOCK", command=command, argument=argument,
                   params={**PARAMS, **params}, gs1=dict(gs1 or {}))


class Dock:
    """Feeds scans through ``step`` the way the service does, keeping the state."""

    def __init__(self) -> None:
        self.state: State = {}
        self.now = 1000.0

    def __call__(self, text: str, gs1: Mapping[str, str] | None = None, *, after: float = 1.0,
                 **params: Any) -> Step:
        self.now += after
        result = step(UNITS, self.state, scan(text, gs1, **params), self.now)
        json.dumps(result.state)  # journaled as JSON
        self.state = result.state
        return result

    def reply(self, text: str, gs1: Mapping[str, str] | None = None, **options: Any) -> LocalReply:
        result = self(text, gs1, **options)
        assert result.reply is not None and result.request is None, result
        return result.reply

    def lines(self) -> list[tuple[int, int, tuple[int, ...]]]:
        draft = draft_of(self.state)
        assert draft is not None
        return [(line.unit, line.qty, line.serials) for line in draft.lines()]

    def shown(self) -> dict[str, str]:
        return {f.key: f.value for f in show(self.state)}


def said(reply: LocalReply) -> tuple[str, str]:
    return reply.outcome, reply.title


# --- references ---------------------------------------------------------------------------------


def test_a_reference_opens_a_draft_and_items_need_one() -> None:
    dock = Dock()
    assert said(dock.reply(CRATE)) == ("denied", "No loading open")
    assert said(dock.reply("CMD:SUBMIT")) == ("denied", "No loading open")
    reply = dock.reply("LD-1")
    assert said(reply) == ("ok", "Loading LD-1 opened")
    assert {f.key: f.value for f in reply.fields} == {"loading": "LD-1", "total": "no items yet"}
    assert said(dock.reply("LD-1")) == ("ok", "Loading LD-1 is open")
    assert said(dock.reply("LD-2")) == ("ok", "Loading LD-2 opened")  # the empty LD-1 is replaced
    assert dock.reply("LD-2").title == "Loading LD-2 is open"


def test_another_reference_scanned_twice_renames_an_open_draft() -> None:
    dock = Dock()
    dock("LD-1")
    dock(CRATE)
    first = dock.reply("LD-2")
    assert said(first) == ("denied", "Loading LD-1 is still open")
    assert "Scan LD-2 again within 10 s" in first.details[1]
    assert said(dock.reply("LD-2", after=5)) == ("ok", "Loading LD-1 is now LD-2")
    assert dock.shown()["loading"] == "LD-2" and dock.lines() == [(1, 1, ())]
    assert dock.reply("LD-3").outcome == "denied"
    assert dock.reply("LD-3", after=11).outcome == "denied", "too late: asks again"
    dock(CRATE)
    assert dock.reply("LD-3").outcome == "denied", "another scan in between: asks again"


@pytest.mark.parametrize("reference", ["LD-\x1b[2J", "LD- 1 ", "LD-" + "x" * 300])
def test_a_reference_that_cannot_be_one(reference: str) -> None:
    assert said(Dock().reply(reference)) == ("denied", "Not a loading reference")


# --- items, quantities, serials -----------------------------------------------------------------


def test_items_quantities_and_lines_per_item_unit() -> None:
    dock = Dock()
    dock("LD-1")
    assert said(dock.reply(CRATE)) == ("ok", "Crate +1")
    assert said(dock.reply("CMD:QTY:9")) == ("ok", "Quantity 9 for the next item")
    assert dock.shown()["next_qty"] == "quantity 9"
    dock(CRATE)
    dock(PALLET[1:])  # the 13-digit EAN of a 14-digit GTIN in the table
    reply = dock.reply(CRATE)
    assert dock.lines() == [(1, 11, ()), (3, 1, ())]
    assert {f.key: f.value for f in reply.fields} == {
        "loading": "LD-1", "line1": "Crate × 11", "line2": "item unit 3 × 1", "total": "12 units in 2 lines"}


@pytest.mark.parametrize("command", ["CMD:QTY:0", "CMD:QTY:abc", "CMD:QTY:", "CMD:QTY", "CMD:QTY:100000",
                                     "CMD:QTY:-3", "CMD:QTY:٣"])
def test_a_bad_quantity_is_refused(command: str) -> None:
    dock = Dock()
    dock("LD-1")
    assert said(dock.reply(command)) == ("denied", "Not a quantity")
    assert "next_qty" not in dock.shown()


def test_an_unknown_barcode_is_refused_and_nothing_changes() -> None:
    dock = Dock()
    dock("LD-1")
    before = dock.state
    reply = dock.reply("09506000134383")
    assert said(reply) == ("denied", "Unknown item barcode")
    assert reply.details[0] == "09506000134383 is not one of this dock's item units."
    assert draft_of(dock.state) == draft_of(before)


def test_serial_number_scans_attach_to_the_last_item() -> None:
    dock = Dock()
    dock("LD-1")
    assert said(dock.reply("SN-750")) == ("denied", "Scan the item first")
    dock("CMD:QTY:2")
    dock(ROUTER)
    dock(CRATE)
    assert said(dock.reply("SN-800")) == ("ok", "Serial 800 added")
    assert said(dock.reply("SN-801")) == ("denied", "Too many serial numbers")
    assert said(dock.reply("SN-8x")) == ("denied", "Not a serial number id")
    assert said(dock.reply("SN-800")) == ("denied", "Serial number already scanned")
    assert dock.lines() == [(2, 2, ()), (1, 1, (800,))]


def test_a_gs1_serial_counts_one_unit_per_scan() -> None:
    dock = Dock()
    dock("LD-1")
    dock("CMD:QTY:5")
    reply = dock.reply("0109506000134369" "21750", {"01": ROUTER, "21": "750"})
    assert said(reply) == ("ok", "Router +1 (serial 750)")
    assert reply.details == ("Quantity 5 not used: an item with a serial number counts 1 per scan.",)
    dock("0109506000134369" "21711", {"01": ROUTER, "21": "711"})
    assert said(dock.reply("x", {"01": ROUTER, "21": "711"})) == ("denied", "Serial number already scanned")
    assert said(dock.reply("x", {"01": ROUTER, "21": "A7"})) == ("denied", "Not a serial number id")
    assert said(dock.reply("LD-9", {"01": CRATE})) == ("ok", "Crate +1")  # GS1 data is never a reference
    assert dock.lines() == [(2, 2, (750, 711)), (1, 1, ())]


def test_undo_takes_back_the_last_scan_first_the_quantity() -> None:
    dock = Dock()
    dock("LD-1")
    assert said(dock.reply("CMD:UNDO")) == ("ignored", "Nothing to undo")
    dock(CRATE)
    dock(ROUTER)
    dock("SN-750")
    dock("CMD:QTY:4")
    dock(CRATE)
    dock("CMD:QTY:7")
    titles = [dock.reply("CMD:UNDO").title for _ in range(6)]
    assert titles == ["Undone: quantity 7", "Undone: Crate +4", "Undone: serial 750", "Undone: Router +1",
                      "Undone: Crate +1", "Nothing to undo"]
    assert dock.lines() == []


# --- cancel -------------------------------------------------------------------------------------


def test_cancel_needs_a_second_cancel_in_time() -> None:
    dock = Dock()
    assert said(dock.reply("CMD:CANCEL")) == ("ignored", "No loading open")
    dock("LD-1")
    dock(CRATE)
    first = dock.reply("CMD:CANCEL")
    assert said(first) == ("denied", "Drop loading LD-1?")
    assert first.details[0] == "Scan CMD:CANCEL again within 10 s to drop the draft."
    assert dock.shown()["confirm"] == "scan CMD:CANCEL again to drop it"
    assert dock.reply("CMD:CANCEL", after=11).outcome == "denied", "too late: asks again"
    dock(CRATE)  # another scan keeps the draft
    assert dock.reply("CMD:CANCEL").outcome == "denied"
    assert said(dock.reply("CMD:CANCEL", after=9.5)) == ("ok", "Loading LD-1 dropped")
    assert dock.shown()["loading"] == "none open: scan a loading reference"
    assert dock.reply("CMD:CANCEL", after=12, confirm_s=30).outcome == "ignored"
    dock("LD-2")
    dock("CMD:CANCEL", confirm_s=30)
    assert dock.reply("CMD:CANCEL", after=25, confirm_s=30).outcome == "ok"


# --- submit and settle --------------------------------------------------------------------------


def test_submit_sends_one_line_per_item_unit_and_keeps_the_draft_until_the_answer() -> None:
    dock = Dock()
    dock("LD-1")
    assert said(dock.reply("CMD:SUBMIT")) == ("denied", "Loading LD-1 has no items")
    dock("CMD:QTY:2")
    dock(ROUTER)
    dock("SN-750")
    dock(CRATE)
    dock("CMD:QTY:3")
    assert said(dock.reply("CMD:SUBMIT")) == ("denied", "Quantity 3 waits for an item")
    dock("CMD:UNDO")
    sent = dock("CMD:SUBMIT", upsert=True)
    assert sent.reply is None and sent.request is not None
    request = sent.request
    assert (request.identifier, request.command, request.station, request.operator) == ("LD-1", "SUBMIT", "DOCK-1",
                                                                                         "OP1")
    assert request.params == {**PARAMS, "upsert": True, "loading": {"rev": 6, "again": False, "loadingDetails": [
        {"itemUnitId": 2, "quantity": 2, "serialNumbers": [750]}, {"itemUnitId": 1, "quantity": 1}]}}
    assert json.loads(json.dumps(request.as_json()))["params"]["loading"]["rev"] == 6
    assert dock.shown()["sent"] == "no answer known yet" and dock.lines() == [(2, 2, (750,)), (1, 1, ())]

    refused = settle(dock.state, request, Rejected("Quantity not available"), dock.now)
    draft = draft_of(dock.state)
    assert draft is not None and draft_of(refused) == replace(draft, sent_at=None)
    assert "sent" not in {f.key for f in show(refused)}
    assert settle(dock.state, request, BadAnswer("no"), dock.now)["draft"]["scans"] == dock.state["draft"]["scans"]
    done = settle(dock.state, request, Done("Loading created"), dock.now)
    assert "draft" not in done and done["last"]["reference"] == "LD-1"
    assert {f.key: f.value for f in show(done)} == {"loading": "none open: scan a loading reference",
                                                    "last": "LD-1: Loading created"}


def test_a_submit_without_an_answer_is_remembered_until_one_comes() -> None:
    dock = Dock()
    dock("LD-1")
    dock(CRATE)
    first = dock("CMD:SUBMIT").request
    assert first is not None and first.params["loading"]["again"] is False
    dock.state = settle(dock.state, first, Unreachable("no answer", sent=True), dock.now)
    assert dock.shown()["sent"] == "no answer known yet"
    dock(CRATE)  # a change keeps it: the first submit may still have stored the loading
    second = dock("CMD:SUBMIT").request
    assert second is not None and second.params["loading"]["again"] is True
    stored = Rejected("Reference already used", ("reference already used", "not_unique (HTTP 400)", STORED_BEFORE))
    dock.state = settle(dock.state, second, stored, dock.now)
    assert "sent" in dock.shown()
    dock("LD-2")
    dock("LD-2")  # renamed: the earlier submit was under another reference
    assert "sent" not in dock.shown()
    third = dock("CMD:SUBMIT").request
    assert third is not None and third.params["loading"]["again"] is False
    dock.state = settle(dock.state, third, Rejected("Quantity not available"), dock.now)
    assert "sent" not in dock.shown()


def test_an_answer_never_clears_a_draft_changed_since_it_was_sent() -> None:
    dock = Dock()
    dock("LD-1")
    dock(CRATE)
    request = dock("CMD:SUBMIT").request
    assert request is not None
    dock(CRATE)  # e.g. a retried parked submit answered later
    after = settle(dock.state, request, Done("Loading created"), dock.now)
    assert after["draft"] == dock.state["draft"] and after["last"]["reference"] == "LD-1"


def test_the_screen_shows_the_last_lines_and_the_total() -> None:
    units = {f"IU-{n}": ItemUnit.model_validate({"id": n, "name": f"Item {n}"}) for n in range(1, 10)}
    state: State = {}
    for text in ["LD-1"] + list(units):
        state = step(units, state, scan(text), 1.0).state
    fields = {f.key: f.value for f in show(state)}
    assert fields["earlier"] == f"{9 - SHOWN_LINES} earlier lines"
    assert [k for k in fields if k.startswith("line")] == [f"line{n}" for n in range(10 - SHOWN_LINES, 10)]
    assert fields["total"] == "9 units in 9 lines"


# --- a dock set up wrong, a state that cannot be read ------------------------------------------


@pytest.mark.parametrize("params,message", [
    ({"warehous": 7}, "params.warehous is not a Loadings dock setting"),
    ({"warehouse": None}, "params.warehouse must be the warehouse id"),
    ({"type": 3}, "params.type must be 1 (loading) or 2 (unloading)"),
    ({"reason": "2"}, "params.reason must be a reason id"),
    ({"upsert": "yes"}, "params.upsert must be true or false"),
    ({"serial_prefix": "LD-S"}, "params.serial_prefix and params.reference_prefix must not start alike"),
    ({"confirm_s": 0}, "params.confirm_s must be a number of seconds"),
    ({"loading": 1}, "params.loading is reserved"),
])
def test_a_dock_set_up_wrong_says_which_param(params: dict[str, Any], message: str) -> None:
    request = scan("LD-1")
    request = Request(request.action, request.station, request.identifier,
                      params={k: v for k, v in {**PARAMS, **params}.items() if v is not None})
    reply = step(UNITS, {}, request, 1.0).reply
    assert reply is not None and said(reply) == ("denied", "Dock set up wrong")
    assert reply.details[0].startswith(message)


def test_a_state_that_cannot_be_read_is_said_and_can_be_dropped() -> None:
    broken: State = {"draft": {"reference": "LD-1", "scans": [{"unit": "x"}]}}
    reply = step(UNITS, broken, scan(CRATE), 1.0).reply
    assert reply is not None and said(reply) == ("denied", "Loading cannot be read")
    assert show(broken)[0].value.startswith("the saved loading draft cannot be read")
    dropped = step(UNITS, broken, scan("CMD:CANCEL"), 1.0)
    assert dropped.state == {} and dropped.reply is not None and dropped.reply.outcome == "ok"


# --- properties ---------------------------------------------------------------------------------

SCANS = st.one_of(
    st.sampled_from(["LD-1", "LD-2", CRATE, ROUTER, PALLET, "CMD:UNDO", "CMD:SUBMIT", "CMD:CANCEL", "CMD:QTY:3",
                     "CMD:QTY:0", "SN-750", "SN-711", "09506000134383"]),
    st.tuples(st.sampled_from([ROUTER, CRATE]), st.sampled_from(["750", "711", "X"])).map(
        lambda pair: ("gs1", pair)),
)


@given(st.lists(st.tuples(SCANS, st.sampled_from([0.5, 4.0, 12.0])), max_size=40))
def test_any_scan_sequence_keeps_a_consistent_journaled_draft(scans: list[tuple[Any, float]]) -> None:
    dock = Dock()
    for item, after in scans:
        if isinstance(item, tuple):
            gtin, serial = item[1]
            result = dock(f"01{gtin}21{serial}", {"01": gtin, "21": serial}, after=after)
        else:
            result = dock(item, after=after)
        assert (result.reply is None) != (result.request is None)
        draft = draft_of(dock.state)
        if draft is None:
            continue
        lines = draft.lines()
        assert all(line.qty >= 1 and len(line.serials) <= line.qty for line in lines)
        serials = [s for line in lines for s in line.serials]
        assert len(serials) == len(set(serials))
        assert len({line.unit for line in lines}) == len(lines)
        if result.request is not None:
            sent = result.request.params["loading"]["loadingDetails"]
            assert sum(d["quantity"] for d in sent) == sum(line.qty for line in lines) > 0

"""``gateway check`` on the scenario files: the documented decisions, line by line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.rulebook.model import Rulebook, load_rulebook
from gateway.tools.check import run_check

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
GATEWAY = Path(sys.executable).parent / "gateway"
NOW = datetime(2026, 3, 1, tzinfo=UTC)
EXCHANGE_PARTIES = frozenset({"exchange-listing-desk"})


def run(
    name: str, rulebook: Rulebook | None = None, *, accepted_casts: bool = False
) -> tuple[list[dict[str, Any]], Any]:
    """The records ``gateway check`` writes for the file; the accepted cast records only
    when asked for (every good cast record is accepted)."""
    sink = io.StringIO()
    with (SCENARIOS / name).open(encoding="utf-8") as source:
        report = run_check(
            source,
            sink,
            rulebook=rulebook or load_rulebook(),
            now=NOW,
            exchange_parties=EXCHANGE_PARTIES,
        )
    records = [json.loads(line) for line in sink.getvalue().splitlines()]
    if not accepted_casts:
        records = [r for r in records if r.get("type") != ACCEPTED_CAST]
    return records, report


ACCEPTED_CAST = "custody.production-batch.accepted"
DISAGREES = "CAST_CHEMISTRY_DISAGREES"
"""The producer recorded the cast's chemistry otherwise than its eCOA certifies it."""


def summary(records: list[dict[str, Any]]) -> list[tuple[int, str, list[str]]]:
    """(line, type, the codes or missing references it carries) for each decision."""
    rows = []
    for record in records:
        if "error" in record:
            rows.append((record["line"], "error", [record["error"]["field"] or ""]))
            continue
        body = record["body"]
        details = [v["code"] for v in body.get("violations", [])]
        details += [m["reference"] for m in body.get("missing", [])]
        rows.append((record["line"], record["type"], details))
    return [row for row in rows if row[1] not in NOT_SUMMARISED]


NOT_SUMMARISED = frozenset({"custody.warrant.state-changed", ACCEPTED_CAST})
"""Left out of a summary: a lot's current state repeats its decision, and every good cast
record is accepted (the tests of recorded casts look at those)."""


def test_a_good_alloy_lot_is_issued_with_its_emissions() -> None:
    records, report = run("issued_alloy_lot.jsonl")
    assert summary(records) == [
        (6, "custody.brand.listed", []),
        (9, "custody.ecoa.accepted", []),
        (10, "custody.cbam-form.accepted", []),
        (10, "custody.emissions.attached", []),
        (12, "custody.warrant.issued", []),
    ]
    assert report.malformed == 0
    warrant = records[-2]["body"]
    document = warrant["document"]
    assert warrant["warrant_id"] == "WRT-LOT-RTM-0001"
    assert (document["brand"], document["country_of_origin"], document["shape"]) == (
        "NORDAL",
        "Norway",
        "ingot",
    )
    assert document["certificates_of_analysis"] == [
        {"issued_on": "2026-02-11", "reference": "ECOA-NORDAL-0101"}
    ]
    assert (document["net_weight_kg"], document["bundles"], document["pieces"]) == (
        20000,
        20,
        2500,
    )
    assert document["warning_clause"].startswith("WARNING: the buyer is advised")
    emissions = document["emissions"]
    assert (emissions["form_id"], emissions["from_previous_year"]) == ("FORM-NORDAL-2025", True)
    # 14.8 % alloying counted as primary: 0.852 x 1.60 + 0.148 x 2.36, 0.852 x 0.40 + 0.148 x 8.14
    assert Decimal(str(emissions["summary"]["direct_tco2e_per_t"])) == Decimal("1.71248")
    assert Decimal(str(emissions["summary"]["indirect_tco2e_per_t"])) == Decimal("1.54552")
    assert emissions["summary"]["alloying_as_primary"] is True


def test_a_bundle_of_another_brand_or_of_two_casts_is_rejected_and_a_version_1_lot_issued() -> None:
    records, report = run("bundles_of_one_brand_and_batch.jsonl")
    assert summary(records) == [
        (9, "custody.brand.listed", []),
        (12, "custody.ecoa.accepted", []),
        (13, "custody.cbam-form.accepted", []),
        (13, "custody.emissions.attached", []),
        (15, "custody.warrant.issued", []),
        (17, "custody.warrant.rejected", ["MORE_THAN_ONE_BRAND"]),
        (19, "custody.warrant.rejected", ["BUNDLE_OF_MORE_THAN_ONE_BATCH"]),
        (21, "custody.warrant.issued", []),
    ]
    assert report.malformed == 0
    rejected = [r["body"] for r in records if r["type"] == "custody.warrant.rejected"]
    (other_brand,), (two_casts,) = (body["violations"] for body in rejected)
    assert (other_brand["rule"], other_brand["field"]) == (
        "Aluminium Alloy SCR 3.2",
        "bundles[6].brand",
    )
    assert (other_brand["observed"], other_brand["allowed"]) == ("ALUMAX", "NORDAL")
    assert (two_casts["rule"], two_casts["field"]) == (
        "Aluminium Alloy SCR 3.3",
        "bundles[2].cast_references",
    )
    assert two_casts["observed"] == "2 (C26-0101, C26-0102)"


def test_a_pending_lot_is_issued_as_soon_as_the_last_missing_message_is_accepted() -> None:
    records, _ = run("pending_until_the_ecoa_arrives.jsonl")
    assert summary(records) == [
        (4, "custody.brand.listed", []),
        (5, "custody.warrant.pending", ["LOT-RTM-0002"]),
        (6, "custody.warrant.pending", ["C26-0201", "brand NORDAL year 2026"]),
        (7, "custody.ecoa.accepted", []),
        (7, "custody.warrant.pending", ["brand NORDAL year 2026"]),
        (8, "custody.cbam-form.accepted", []),
        (8, "custody.emissions.attached", []),
        (8, "custody.warrant.issued", []),
    ]


def test_rejected_lots_name_every_rule_and_a_suspension_blocks_until_reinstated() -> None:
    records, _ = run("rejected_lots.jsonl")
    assert summary(records) == [
        (5, "custody.brand.listed", []),
        (6, "custody.ecoa.accepted", []),
        (7, "custody.cbam-form.accepted", []),
        (7, "custody.emissions.attached", []),
        (
            9,
            "custody.warrant.rejected",
            ["LOT_WEIGHT_OUT_OF_TOLERANCE", "TOO_MANY_PRODUCTION_BATCHES"],
        ),
        (11, "custody.brand.suspended", []),
        (12, "custody.warrant.rejected", ["BRAND_SUSPENDED"]),
        (13, "custody.brand.reinstated", []),
        (14, "custody.warrant.issued", []),
    ]
    rejection = records[4]["body"]["violations"][0]
    assert rejection == {
        "code": "LOT_WEIGHT_OUT_OF_TOLERANCE",
        "rule": "Aluminium Alloy SCR 2, 3.1",
        "field": "net_weight_kg",
        "observed": rejection["observed"],
        "allowed": rejection["allowed"],
        "message": rejection["message"],
    }
    assert "20504" in rejection["observed"]


def test_an_ecoa_and_a_form_are_rejected_with_every_failed_rule() -> None:
    records, _ = run("rejected_ecoa_and_form.jsonl")
    assert summary(records) == [
        (5, "custody.brand.listed", []),
        (
            6,
            "custody.ecoa.rejected",
            ["BASIC_FOR_METAL_PRODUCED_AFTER_NOTICE", "PAPER_COA_MISSING"],
        ),
        (
            7,
            "custody.cbam-form.rejected",
            [
                "UN_LOCODE_MALFORMED",
                "CN_CODE_NOT_UNWROUGHT_ALUMINIUM",
                "LEVEL_OF_ASSURANCE_UNKNOWN",
                "MANDATORY_FIELD_MISSING",
            ],
        ),
    ]
    rules = {v["code"]: v["rule"] for v in records[1]["body"]["violations"]}
    assert rules == {
        "BASIC_FOR_METAL_PRODUCED_AFTER_NOTICE": "SCR 4.2",
        "PAPER_COA_MISSING": "SCR 4.7(a)",
    }


def test_malformed_lines_get_an_error_with_their_line_number_and_nothing_is_skipped() -> None:
    records, report = run("malformed_lines.jsonl")
    assert summary(records) == [
        (2, "custody.brand.listed", []),
        (3, "error", [""]),
        (4, "error", ["type"]),
        (5, "error", ["pieces"]),
        (6, "error", ["type"]),
    ]
    assert [r["error"]["kind"] for r in records if "error" in r] == [
        "undecodable",
        "unknown_type",
        "schema_violation",
        "undecodable",
    ]
    assert (report.messages, report.malformed) == (2, 4)


def test_a_refused_command_is_reported_not_skipped() -> None:
    line = json.dumps(
        {
            "type": "custody.brand.suspend",
            "body": {
                "schema_version": 1,
                "command_id": "S-1",
                "brand": "GHOST",
                "reason": "overdue",
                "effective_at": "2026-03-01T00:00:00Z",
            },
        }
    )
    sink = io.StringIO()
    report = run_check([line], sink, rulebook=load_rulebook(), now=NOW)
    [record] = [json.loads(text) for text in sink.getvalue().splitlines()]
    assert record["error"]["kind"] == "refused"
    assert "not listed" in record["error"]["message"]
    assert report.refused == 1


@pytest.mark.parametrize(
    ("name", "status"), [("issued_alloy_lot.jsonl", 0), ("malformed_lines.jsonl", 1)]
)
def test_the_console_command_exit_status_says_whether_a_line_was_malformed(
    name: str, status: int
) -> None:
    done = subprocess.run(
        [str(GATEWAY), "check", str(SCENARIOS / name), "--now", "2026-03-01T00:00:00Z"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == status, done.stderr
    assert "gateway check:" in done.stderr
    assert all(json.loads(line) for line in done.stdout.splitlines())


def test_the_console_command_reads_standard_input() -> None:
    text = (SCENARIOS / "rejected_ecoa_and_form.jsonl").read_text(encoding="utf-8")
    done = subprocess.run(
        [str(GATEWAY), "check", "--now", "2026-03-01T00:00:00Z"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert [json.loads(line)["type"] for line in done.stdout.splitlines()] == [
        "custody.brand.listed",
        "custody.ecoa.rejected",
        "custody.cbam-form.rejected",
    ]


def notes_of(records: list[dict[str, Any]]) -> list[tuple[int, str, list[str]]]:
    return [(r["line"], r["type"], r["body"].get("notes", [])) for r in records if "body" in r]


NOT_VERIFIED = "not verified: a form must be verified from {} (§4.1.3)"
ALLOYING = (
    "alloying elements at 14.8 % exceed 5 %: their mass is counted as primary unwrought "
    "aluminium at the default values (§6.3)"
)


def test_by_default_every_form_must_be_verified_ahead_of_the_eu() -> None:
    """The exchange requires verification ahead of the EU (§4.1.3): neither unverified form
    is accepted."""
    records, _ = run("cbam_dates.jsonl")
    missing = ["MANDATORY_FIELD_MISSING", "MANDATORY_FIELD_MISSING"]
    assert summary(records) == [
        (9, "custody.brand.listed", []),
        (10, "custody.cbam-form.rejected", missing),
        (11, "custody.cbam-form.rejected", missing),
    ]
    for rejected in records[1:]:
        fields = {v["field"] for v in rejected["body"]["violations"]}
        assert fields == {"verifier", "level_of_assurance"}


def test_verification_from_the_eu_date_and_the_source_deadline() -> None:
    """15 March 2025 for the 2024 form (late on 1 June), verification from 2026 (the 2025
    form without a verifier is rejected)."""
    records, _ = run("cbam_dates.jsonl", load_rulebook(verification_start=date(2026, 1, 1)))
    assert summary(records) == [
        (9, "custody.brand.listed", []),
        (10, "custody.cbam-form.accepted", []),
        (11, "custody.cbam-form.rejected", ["MANDATORY_FIELD_MISSING", "MANDATORY_FIELD_MISSING"]),
    ]
    assert notes_of(records)[1][2] == [
        "submitted after the 15 March 2025 deadline (§4.3)",
        NOT_VERIFIED.format("2026-01-01"),
        ALLOYING,
    ]
    fields = {v["field"] for v in records[2]["body"]["violations"]}
    assert fields == {"verifier", "level_of_assurance"}


def test_the_cbam_dates_the_exchange_moves_are_read_by_the_rules() -> None:
    moved = load_rulebook(
        first_form_deadline=date(2025, 6, 15), verification_start=date(2027, 1, 1)
    )
    records, _ = run("cbam_dates.jsonl", moved)
    assert notes_of(records) == [
        (9, "custody.brand.listed", []),
        (10, "custody.cbam-form.accepted", [NOT_VERIFIED.format("2027-01-01"), ALLOYING]),
        (11, "custody.cbam-form.accepted", [NOT_VERIFIED.format("2027-01-01"), ALLOYING]),
    ]


def test_the_console_command_takes_the_cbam_dates_as_options() -> None:
    done = subprocess.run(
        [
            str(GATEWAY),
            "check",
            str(SCENARIOS / "cbam_dates.jsonl"),
            "--first-form-deadline",
            "2025-06-15",
            "--verification-start",
            "2027-01-01",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    types = [json.loads(line)["type"] for line in done.stdout.splitlines()]
    assert types.count("custody.cbam-form.accepted") == 2
    assert "first form deadline 2025-06-15" in done.stderr
    assert "verification from 2027-01-01" in done.stderr


def test_the_console_command_refuses_a_yearly_deadline_not_in_every_year() -> None:
    done = subprocess.run(
        [str(GATEWAY), "check", str(SCENARIOS / "cbam_dates.jsonl"), "--form-deadline", "02-29"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "not a day of every year" in done.stderr


def test_an_implausible_form_and_another_methodology_are_refused_the_corrected_one_attached() -> (
    None
):
    records, _ = run("cbam_plausibility.jsonl")
    assert summary(records) == [
        (6, "custody.brand.listed", []),
        (9, "custody.ecoa.accepted", []),
        (10, "custody.cbam-form.rejected", ["EMISSIONS_IMPLAUSIBLE", "EMISSIONS_IMPLAUSIBLE"]),
        (11, "custody.cbam-form.rejected", ["METHODOLOGY_NOT_EU"]),
        (12, "custody.cbam-form.accepted", []),
        (12, "custody.emissions.attached", []),
    ]
    direct = records[2]["body"]["violations"][0]
    assert (direct["field"], direct["observed"], direct["rule"]) == (
        "direct_embedded_emissions.tco2e_per_t",
        "1600 t CO2e/t",
        "§4.1.2",
    )
    assert (
        "1.6 t CO2e/t would be plausible: a figure in kg CO2e/t entered as" in (direct["message"])
    )
    attached = records[-1]["body"]
    assert (attached["form_id"], attached["ecoa_id"]) == ("FORM-NORDAL-2025", "ECOA-NORDAL-0101")
    assert Decimal(str(attached["emissions"]["direct_tco2e_per_t"])) == Decimal("1.71248")


def test_a_line_that_states_its_sender_is_held_to_the_sender_rules_of_the_topics() -> None:
    records, report = run("sender_identity.jsonl")
    assert summary(records) == [
        (8, "custody.brand.listed", []),
        (11, "custody.cbam-form.rejected", ["SENDER_NOT_PERMITTED"]),
        (12, "custody.ecoa.rejected", ["SENDER_NOT_PERMITTED"]),
        (13, "error", ["warehouse_id"]),
        (14, "error", ["ce_partyid"]),
        (15, "custody.ecoa.accepted", []),
        (16, "custody.cbam-form.accepted", []),
        (16, "custody.emissions.attached", []),
        (18, "custody.warrant.issued", []),
    ]
    rules = [[v["rule"] for v in r["body"]["violations"]] for r in records if r["line"] in (11, 12)]
    assert rules == [["§4.2.1"], ["SCR 4.6"]]
    errors = [r["error"] for r in records if "error" in r]
    assert [(e["kind"], e["rule"]) for e in errors] == [
        ("sender_not_permitted", "sender identity")
    ] * 2
    assert (report.refused, report.without_sender) == (2, 2)


def test_without_a_sender_a_line_is_judged_by_the_rulebook_only() -> None:
    """The same stranger's form without ``partyid`` is accepted: no sender, no sender rules."""
    lines = (SCENARIOS / "sender_identity.jsonl").read_text(encoding="utf-8").splitlines()
    listing, stranger_form = json.loads(lines[7]), json.loads(lines[10])
    del stranger_form["envelope"]["partyid"]
    sink = io.StringIO()
    report = run_check(
        [json.dumps(listing), json.dumps(stranger_form)],
        sink,
        rulebook=load_rulebook(),
        now=NOW,
        exchange_parties=EXCHANGE_PARTIES,
    )
    types = [json.loads(line)["type"] for line in sink.getvalue().splitlines()]
    assert types == ["custody.brand.listed", "custody.cbam-form.accepted"]
    assert report.without_sender == 1


@pytest.mark.parametrize(
    ("envelope", "field"),
    [({"partyid": ""}, "envelope.partyid"), ({"partyId": "x"}, "envelope.partyId")],
)
def test_a_sender_that_cannot_be_read_is_a_malformed_line(
    envelope: dict[str, str], field: str
) -> None:
    lines = (SCENARIOS / "sender_identity.jsonl").read_text(encoding="utf-8").splitlines()
    listing = json.loads(lines[7])
    listing["envelope"] = envelope
    sink = io.StringIO()
    report = run_check([json.dumps(listing)], sink, rulebook=load_rulebook(), now=NOW)
    [record] = [json.loads(text) for text in sink.getvalue().splitlines()]
    assert record["error"]["field"] == field
    assert report.malformed == 1


def test_the_console_command_applies_the_exchange_parties_of_the_settings() -> None:
    done = subprocess.run(
        [str(GATEWAY), "check", str(SCENARIOS / "sender_identity.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "GATEWAY_EXCHANGE_PARTY_IDS": "exchange-desk-2"},
    )
    first = json.loads(done.stdout.splitlines()[0])
    assert (first["line"], first["error"]["kind"]) == (8, "sender_not_permitted")
    assert "without a sender (judged by the rulebook only)" in done.stderr


def test_a_delisting_takes_effect_at_its_time_not_when_announced() -> None:
    records, _ = run("delisting_notice.jsonl")
    assert summary(records) == [
        (6, "custody.brand.listed", []),
        (9, "custody.ecoa.accepted", []),
        (10, "custody.cbam-form.accepted", []),
        (10, "custody.emissions.attached", []),
        (11, "custody.brand.delisted", []),
        (13, "custody.warrant.issued", []),
        (15, "custody.warrant.rejected", ["BRAND_DELISTED"]),
    ]
    delisted = records[4]["body"]
    assert (delisted["effective_at"], delisted["notice_period_days"]) == (
        "2026-06-01T00:00:00Z",
        92,
    )
    [violation] = records[-2]["body"]["violations"]
    assert violation["rule"] == "§4.4"


def test_a_lot_of_off_specification_metal_pends_naming_the_rejected_ecoa_then_expires() -> None:
    records, _ = run("offspec_cast_pending_then_expired.jsonl")
    assert summary(records) == [
        (6, "custody.brand.listed", []),
        (9, "custody.ecoa.rejected", [DISAGREES, "ELEMENT_OUT_OF_SPECIFICATION"]),
        (10, "custody.cbam-form.accepted", []),
        (12, "custody.warrant.pending", ["C26-0101", "C26-0102"]),
        (
            13,
            "custody.warrant.rejected",
            ["WARRANT_REQUEST_EXPIRED", DISAGREES, "ELEMENT_OUT_OF_SPECIFICATION"],
        ),
    ]
    pending = records[3]["body"]
    disagreement, finding = pending["certificate_violations"]
    assert (disagreement["field"], disagreement["observed"], disagreement["allowed"]) == (
        "ecoa[ECOA-NORDAL-0101].casts[0].chemistry.Cu",
        "4.5 %",
        "3 % (recorded for cast C26-0101)",
    )
    assert (finding["rule"], finding["field"], finding["observed"], finding["allowed"]) == (
        "Aluminium Alloy SCR 1(a)(i)",
        "ecoa[ECOA-NORDAL-0101].casts[0].chemistry.Cu",
        "4.5 %",
        "2-3.5 % (A380.1)",
    )
    assert "ECOA-NORDAL-0101 was rejected" in pending["missing"][0]["message"]
    expiry = records[-2]["body"]["violations"][0]
    assert (expiry["rule"], expiry["allowed"]) == ("SCR 4.1 (pending limit)", "<= 30 days pending")


def test_a_quiet_brands_request_is_expired_by_a_tick_past_the_limit_only() -> None:
    records, report = run("quiet_brand_expired_by_the_clock.jsonl")
    assert summary(records) == [
        (6, "custody.brand.listed", []),
        (9, "custody.ecoa.rejected", [DISAGREES, "ELEMENT_OUT_OF_SPECIFICATION"]),
        (10, "custody.cbam-form.accepted", []),
        (12, "custody.warrant.pending", ["C26-0101", "C26-0102"]),
        # lines 13 and 14: ticks before and at the limit decide nothing
        (
            15,
            "custody.warrant.rejected",
            ["WARRANT_REQUEST_EXPIRED", DISAGREES, "ELEMENT_OUT_OF_SPECIFICATION"],
        ),
        # line 16: the same tick again decides nothing new
    ]
    expiry = records[-2]["body"]["violations"][0]
    assert (expiry["rule"], expiry["observed"]) == (
        "SCR 4.1 (pending limit)",
        "pending since 2026-03-02T09:00:00+00:00 (30 days, 0:00:01)",
    )
    assert records[-2]["body"]["decided_at"].startswith("2026-04-01T09:00:01")
    assert (report.messages, report.without_sender, report.malformed) == (11, 7, 0)


def test_a_tick_written_as_on_the_wire_is_the_gateways_own_only() -> None:
    tick = {"schema_version": 1, "partition": 0, "ticked_at": "2026-04-01T09:00:00Z"}
    lines = [
        json.dumps({"type": "custody.clock.ticked", "body": tick, "envelope": {"partyid": party}})
        for party in ("warehouse-rotterdam-07", "custody-registry")
    ]
    sink = io.StringIO()
    report = run_check(lines, sink, rulebook=load_rulebook(), now=NOW)
    [error] = [json.loads(line)["error"] for line in sink.getvalue().splitlines()]
    assert (error["kind"], error["field"], error["rule"]) == (
        "sender_not_permitted",
        "ce_partyid",
        "sender identity",
    )
    assert (report.messages, report.refused) == (2, 1)


def test_a_tick_line_must_state_a_time_with_a_zone() -> None:
    sink = io.StringIO()
    lines = ['{"tick": "2026-04-01T09:00:00"}', '{"tick": "soon", "envelope": {}}']
    report = run_check(lines, sink, rulebook=load_rulebook(), now=NOW)
    errors = [json.loads(line)["error"] for line in sink.getvalue().splitlines()]
    assert [(e["kind"], e["field"]) for e in errors] == [
        ("bad_header", "tick"),
        ("undecodable", "envelope"),
    ]
    assert report.malformed == 2


def test_a_lot_pending_on_a_rejected_ecoa_is_issued_when_a_valid_one_arrives_in_time() -> None:
    records, _ = run("offspec_cast_corrected_then_issued.jsonl")
    assert summary(records) == [
        (4, "custody.brand.listed", []),
        (7, "custody.ecoa.rejected", [DISAGREES, "ELEMENT_OUT_OF_SPECIFICATION"]),
        (8, "custody.cbam-form.accepted", []),
        (10, "custody.warrant.pending", ["C26-0101", "C26-0102"]),
        (11, "custody.ecoa.accepted", []),
        (11, "custody.emissions.attached", []),
        (11, "custody.warrant.issued", []),
    ]
    assert [v["code"] for v in records[3]["body"]["certificate_violations"]] == [
        DISAGREES,
        "ELEMENT_OUT_OF_SPECIFICATION",
    ]


def basis(body: dict[str, Any]) -> list[str]:
    """The rules a decision names beyond the contract's own (its certificates' and
    emissions' basis)."""
    return [rule for rule in body["rules_applied"] if not rule.startswith("Aluminium Alloy")]


def test_issued_warrants_and_accepted_ecoas_name_the_rules_they_were_decided_under() -> None:
    records, _ = run("issued_on_basic_ecoas.jsonl")
    assert summary(records) == [
        (6, "custody.brand.listed", []),
        (7, "custody.ecoa.accepted", []),
        (9, "custody.warrant.issued", []),
        (10, "custody.ecoa.accepted", []),
        (12, "custody.warrant.issued", []),
        (13, "custody.ecoa.rejected", ["UNKNOWN_PRODUCTION_DATE_NOT_BY_WAREHOUSE"]),
    ]
    decided = [r["body"] for r in records if r["type"] != "custody.warrant.state-changed"]
    assert basis(decided[1]) == ["SCR 4.5", "SCR 4.4(a)", "SCR 4.7(a)"]
    assert basis(decided[2]) == ["§4.4", "SCR 4.1", "SCR 4.4", "§4.1.2"]
    assert basis(decided[3]) == ["SCR 4.5", "SCR 4.3", "SCR 4.7(a)"]
    assert basis(decided[4]) == ["§4.4", "SCR 4.1", "SCR 4.3", "§4.1.2"]
    assert "rules_applied" not in decided[5]
    assert decided[2]["document"]["emissions"]["form_id"] is None


def test_an_issued_warrant_names_its_enhanced_ecoa_and_previous_year_form_and_keeps_notes() -> None:
    records, _ = run("issued_alloy_lot.jsonl")
    ecoa = next(r["body"] for r in records if r["type"] == "custody.ecoa.accepted")
    issued = next(r["body"] for r in records if r["type"] == "custody.warrant.issued")
    assert basis(ecoa) == ["SCR 4.5", "SCR 4.6"]
    assert "Aluminium Alloy SCR 1(a)(i)" in ecoa["rules_applied"]
    assert basis(issued) == ["§4.4", "SCR 4.1", "SCR 4.2", "§4.3 Figure 4"]
    assert issued["rules_applied"][:4] == [
        "Aluminium Alloy SCR 1(c)",
        "Aluminium Alloy SCR 3.2",
        "Aluminium Alloy SCR 1(b)",
        "Aluminium Alloy SCR 2, 3.1",
    ]
    assert issued["notes"] == ["brand NORDAL's 2025 form used until 2026's is due (§4.3 Figure 4)"]


def test_a_lot_stated_as_produced_before_the_notice_date_cannot_bypass_scr_4_2() -> None:
    records, _ = run("lot_date_contradicts_its_ecoa.jsonl")
    assert summary(records) == [
        (7, "custody.brand.listed", []),
        (10, "custody.ecoa.accepted", []),
        (12, "custody.warrant.rejected", ["LOT_PRODUCTION_DATE_NOT_CERTIFIED"]),
        (14, "custody.warrant.pending", ["brand NORDAL year 2026"]),
        (15, "custody.cbam-form.accepted", []),
        (15, "custody.emissions.attached", []),
        (15, "custody.warrant.issued", []),
    ]
    [violation] = records[2]["body"]["violations"]
    assert (violation["rule"], violation["observed"], violation["allowed"]) == (
        "SCR 4.1, 4.2",
        "2024-12-01",
        "2026-02-10 (the casts' certified and recorded production dates)",
    )
    issued = records[-2]["body"]
    assert issued["document"]["emissions"]["form_id"] == "FORM-NORDAL-2025"
    assert basis(issued)[-2:] == ["SCR 4.2", "§4.3 Figure 4"]


def test_a_cast_reference_one_slip_from_a_known_cast_is_a_mismatch_naming_it() -> None:
    records, _ = run("near_miss_cast_references.jsonl")
    decisions = [row for row in summary(records) if row[1].startswith("custody.warrant.")]
    assert decisions == [
        (
            15,
            "custody.warrant.rejected",
            ["CAST_REFERENCE_NOT_IDENTICAL", "CAST_REFERENCE_NOT_IDENTICAL"],
        ),
        (17, "custody.warrant.issued", []),
        (19, "custody.warrant.pending", ["C26-0999"]),
    ]
    rejected = next(r["body"] for r in records if r["type"] == "custody.warrant.rejected")
    assert [(v["rule"], v["observed"], v["allowed"]) for v in rejected["violations"]] == [
        ("SCR 4.5", "C26-O101", "C26-0101"),
        ("SCR 4.5", "C26-0l02", "C26-0102"),
    ]


def test_a_lot_is_warranted_again_after_its_warrant_was_cancelled_under_the_same_rules() -> None:
    records, _ = run("rewarranted_after_cancellation.jsonl")
    decisions = [
        (line, kind, details, record["body"].get("warrant_id"))
        for (line, kind, details), record in zip(
            summary(records),
            [r for r in records if r["type"] != "custody.warrant.state-changed"],
            strict=True,
        )
        if kind.startswith("custody.warrant.")
    ]
    assert decisions == [
        (12, "custody.warrant.issued", [], "WRT-LOT-RTM-0001"),
        (13, "custody.warrant.cancelled", [], "WRT-LOT-RTM-0001"),
        (14, "custody.warrant.issued", [], "WRT-LOT-RTM-0001#2"),
        (15, "custody.warrant.rejected", ["LOT_ALREADY_ON_WARRANT"], None),
        (16, "custody.warrant.cancelled", [], "WRT-LOT-RTM-0001#2"),
        (18, "custody.warrant.rejected", ["BRAND_SUSPENDED"], None),
    ]


def test_recorded_casts_are_checked_and_a_disagreement_with_their_ecoa_holds_the_lot() -> None:
    records, report = run("recorded_chemistry.jsonl", accepted_casts=True)
    assert report.malformed == 0
    assert summary(records) == [
        (10, "custody.brand.listed", []),
        (12, "custody.production-batch.rejected", ["ELEMENT_OUT_OF_SPECIFICATION"]),
        (13, "custody.ecoa.rejected", [DISAGREES, DISAGREES]),
        (14, "custody.cbam-form.accepted", []),
        (16, "custody.warrant.pending", ["C26-0101", "C26-0102"]),
        (17, "custody.warrant.pending", ["C26-0101", "C26-0102"]),
        (18, "custody.ecoa.accepted", []),
        (18, "custody.emissions.attached", []),
        (18, "custody.warrant.issued", []),
        (19, "custody.ecoa.accepted", []),
        (19, "custody.emissions.attached", []),
        (21, "custody.production-batch.rejected", [DISAGREES]),
        (23, "custody.warrant.pending", ["C26-0202"]),
        (24, "custody.warrant.issued", []),
    ]
    accepted = [(r["line"], r["body"]) for r in records if r["type"] == ACCEPTED_CAST]
    assert [(line, body["cast_reference"], body["rules_applied"]) for line, body in accepted] == [
        (11, "C26-0101", ["Aluminium Alloy SCR 1(a)(i)"]),
        (17, "C26-0102", ["Aluminium Alloy SCR 1(a)(i)"]),
        (20, "C26-0201", ["Aluminium Alloy SCR 1(a)(i)", "SCR 4.5"]),
        (24, "C26-0202", ["Aluminium Alloy SCR 1(a)(i)", "SCR 4.5"]),
    ]
    decided = {(r["line"], r["type"]): r["body"] for r in records}

    def findings(body: dict[str, Any], key: str = "violations") -> list[tuple[str, ...]]:
        return [(v["rule"], v["field"], v["observed"], v["allowed"]) for v in body[key]]

    assert findings(decided[12, "custody.production-batch.rejected"]) == [
        ("Aluminium Alloy SCR 1(a)(i)", "chemistry.Cu", "4 %", "2-3.5 % (A380.1)")
    ]
    assert findings(decided[13, "custody.ecoa.rejected"]) == [
        ("SCR 4.5", "casts[0].chemistry.Cu", "3.2 %", "3 % (recorded for cast C26-0101)"),
        ("SCR 4.5", "casts[1].chemistry.Cu", "3 %", "4 % (recorded for cast C26-0102)"),
    ]
    assert findings(decided[16, "custody.warrant.pending"], "certificate_violations")[-1] == (
        "Aluminium Alloy SCR 1(a)(i)",
        "recorded_cast[C26-0102].chemistry.Cu",
        "4 %",
        "2-3.5 % (A380.1)",
    )
    assert findings(decided[21, "custody.production-batch.rejected"]) == [
        ("SCR 4.5", "chemistry.Cu", "3.1 %", "3 % (certified by eCOA ECOA-NORDAL-0201)")
    ]
    held = decided[23, "custody.warrant.pending"]
    assert findings(held, "certificate_violations") == [
        (
            "SCR 4.5",
            "recorded_cast[C26-0202].chemistry.Cu",
            "3.1 %",
            "3 % (certified by eCOA ECOA-NORDAL-0201)",
        )
    ]
    assert "its producer's record breaks CAST_CHEMISTRY_DISAGREES" in held["missing"][0]["message"]

"""``gateway send``'s reading of its files: JSON Lines as ``gateway check`` reads them, and CSV
casts, every error naming its line and its field or column, nothing sent when one is wrong."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.production import ProductionBatchRecorded
from contracts.values import PartyRole
from gateway.tools.cli import main
from gateway.tools.send import read_casts_csv, read_json_lines, readable_outputs, write_casts_csv
from gateway.topology import DEAD_LETTERS, REGISTRY_OUTPUTS
from producers.simulation import cast

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PARTY = "smelter-nordal"
HEADER = (
    "brand,cast_reference,production_date,site_id,contract,specification,shape,pieces,"
    "total_net_weight_kg,piece_weight_kg,piece_dimensions.length_mm,piece_dimensions.width_mm,"
    "piece_dimensions.height_mm,Cu,Si,Mg,Zn,Fe\n"
)
ROW = (
    "NORDAL,C26-{n},2026-02-10,NO-SUN-01,aluminium_alloy,A380.1,ingot,1250,10000.0,8.0,"
    "700,100,60,3.0,9.0,0.3,{zn},0.8\n"
)


def cast_csv(rows: int = 2) -> str:
    return HEADER + "".join(ROW.format(n=f"{n:04}", zn="1.0") for n in range(rows))


def test_a_csv_row_is_a_cast_with_one_column_per_element() -> None:
    read = read_casts_csv(cast_csv(2).splitlines(keepends=True), NOW)
    assert read.errors == []
    assert [m.line for m in read.messages] == [2, 3]
    cast = read.messages[0].body
    assert isinstance(cast, ProductionBatchRecorded)
    assert cast.cast_reference == "C26-0000"
    assert [(level.element, level.detected_percent) for level in cast.chemistry][:2] == [
        ("Cu", Decimal("3.0")),
        ("Si", Decimal("9.0")),
    ]
    assert cast.piece_dimensions.length_mm == Decimal("700")
    assert cast.pieces == 1250
    assert read.messages[0].time == NOW


def test_an_empty_element_cell_is_an_element_not_stated() -> None:
    text = HEADER + ROW.format(n="0001", zn="")
    [message] = read_casts_csv(text.splitlines(keepends=True), NOW).messages
    assert isinstance(message.body, ProductionBatchRecorded)
    assert "Zn" not in [level.element for level in message.body.chemistry]


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        (ROW.format(n="0001", zn="lots"), "column Zn", "not a number"),
        (ROW.format(n="0001", zn="-1"), "column Zn", ""),
        (ROW.replace("1250", "12.5").format(n="0001", zn="1"), "column pieces", "whole"),
        (ROW.replace("ingot", "blob").format(n="0001", zn="1"), "column shape", ""),
        (ROW.replace("2026-02-10", "tenth").format(n="0001", zn="1"), "column production_date", ""),
    ],
)
def test_a_bad_cell_names_its_line_and_column(row: str, column: str, words: str) -> None:
    text = cast_csv(1) + row
    read = read_casts_csv(text.splitlines(keepends=True), NOW)
    [error] = read.errors
    assert (error.line, error.field) == (3, column)
    assert words in error.message
    assert str(error).startswith(f"line 3, {column}: ")


def test_an_unknown_column_is_read_as_an_element_and_refused() -> None:
    text = HEADER.replace("Fe\n", "Iron\n") + ROW.format(n="0001", zn="1")
    [error] = read_casts_csv(text.splitlines(keepends=True), NOW).errors
    assert (error.line, error.field) == (2, "column Iron")


def test_a_header_naming_a_column_twice_or_a_bad_dimension_is_refused() -> None:
    twice = read_casts_csv(["brand,cast_reference,Cu,Cu\n"], NOW).errors
    assert [(e.line, e.field) for e in twice] == [(1, "column Cu")]
    dimension = read_casts_csv(["brand,cast_reference,piece_dimensions.depth_mm\n"], NOW).errors
    assert [(e.line, e.field) for e in dimension] == [(1, "column piece_dimensions.depth_mm")]
    assert read_casts_csv([], NOW).errors[0].line == 1


def test_a_short_row_names_its_line() -> None:
    [error] = read_casts_csv([HEADER, "NORDAL,C1\n"], NOW).errors
    assert error.line == 2
    assert "cells" in error.message


SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "recorded_chemistry.jsonl"


def test_json_lines_are_read_as_check_reads_them() -> None:
    lines = SCENARIO.read_text(encoding="utf-8").splitlines(keepends=True)
    read = read_json_lines(lines, PARTY, NOW)
    assert read.errors == []
    assert read.messages
    first = read.messages[0]
    assert lines[first.line - 1].startswith("{")
    assert first.time != NOW  # the line's envelope.time


LISTING = next(
    line for line in SCENARIO.read_text(encoding="utf-8").splitlines() if "brand.list" in line
)


def test_a_bad_json_line_names_its_line_and_field() -> None:
    body = {"brand": "NORDAL"}
    lines = [
        "# a comment\n",
        "{not json\n",
        json.dumps({"type": "custody.production-batch.recorded", "body": body}) + "\n",
        json.dumps({"tick": "2026-03-02T10:00:00Z"}) + "\n",
        LISTING.replace('"envelope": {', '"envelope": {"partyid": "x", '),
    ]
    errors = read_json_lines(lines, PARTY, NOW).errors
    assert [e.line for e in errors] == [2, 3, 4, 5]
    assert errors[0].field is None and "not JSON" in errors[0].message
    assert errors[1].field == "cast_reference"
    assert errors[2].field == "tick"
    assert errors[3].field == "envelope.partyid"


def test_the_command_sends_nothing_when_a_line_is_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "casts.csv"
    path.write_text(cast_csv(1) + ROW.format(n="0009", zn="lots"), encoding="utf-8")
    # no broker is configured: reaching it would fail with 3, not 2
    assert main(["send", str(path), "--as", PARTY, "--bootstrap-servers", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "line 3, column Zn: 'lots' is not a number" in err
    assert "nothing sent" in err
    assert "Traceback" not in err


def test_the_command_names_a_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "/no/such/file.jsonl", "--as", PARTY]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_broker_that_cannot_be_reached_is_status_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "casts.csv"
    path.write_text(cast_csv(1), encoding="utf-8")
    status = main(
        ["send", str(path), "--as", PARTY, "--bootstrap-servers", "127.0.0.1:1", "--quiet"]
    )
    assert status == 3
    assert "could not reach the broker" in capsys.readouterr().err


def test_casts_written_as_csv_read_back_the_same() -> None:
    casts = [cast("NORDAL", f"C26-{n:04}") for n in range(3)]
    casts[1] = casts[1].model_copy(update={"production_filtered": True, "batch_reference": "B1"})
    sink = io.StringIO()
    write_casts_csv(casts, sink)
    read = read_casts_csv(io.StringIO(sink.getvalue()), NOW)
    assert read.errors == []
    assert [m.body for m in read.messages] == casts


def test_a_secured_broker_needs_the_partys_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "casts.csv"
    path.write_text(cast_csv(1), encoding="utf-8")
    monkeypatch.setenv("GATEWAY_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    for name in ("GATEWAY_KAFKA_USERNAME", "GATEWAY_KAFKA_PASSWORD", "GATEWAY_KAFKA_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    where = ["--bootstrap-servers", "127.0.0.1:1", "--quiet"]
    assert main(["send", str(path), "--as", PARTY, *where]) == 2
    assert "needs a user name and a password" in capsys.readouterr().err
    secret = tmp_path / "password"
    secret.write_text("s3cret\n", encoding="utf-8")
    given = ["--username", PARTY, "--password-file", str(secret)]
    assert main(["send", str(path), "--as", PARTY, *where, *given]) == 3  # then it connects
    err = capsys.readouterr().err
    assert "could not reach the broker" in err
    assert "s3cret" not in err


def test_on_a_secured_broker_a_sender_reads_only_the_outputs_its_role_may() -> None:
    assert readable_outputs({PartyRole.PRODUCER}, secured=False) == tuple(REGISTRY_OUTPUTS)
    producer = readable_outputs({PartyRole.PRODUCER}, secured=True)
    assert "registry.brand-status" in producer
    assert DEAD_LETTERS not in producer
    assert DEAD_LETTERS in readable_outputs({PartyRole.EXCHANGE}, secured=True)

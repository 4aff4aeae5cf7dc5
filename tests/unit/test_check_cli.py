"""``gateway check`` and the console command's help, as a new user meets them: a lot's
arrival previewed, the text format, errors that give their fix, no traceback for a user's
mistake, plain-text help for every command."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.dead_letter import FIELD_PATH_MAX_CHARACTERS
from contracts.envelope import MessageDecodeError, decode_body, decode_message
from contracts.error_text import MAX_PROBLEMS, problem_text
from contracts.values import TEXT_MAX_CHARACTERS
from contracts.warrants import RequestWarrant
from gateway.rulebook.model import load_rulebook
from gateway.tools.check import run_check
from gateway.tools.cli import build_parser, main

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
NOW = "2026-03-01T00:00:00Z"


def scene(name: str) -> list[dict[str, Any]]:
    lines = (SCENARIOS / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def check_lines(lines: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    sink = io.StringIO()
    source = [json.dumps(line) for line in lines]
    run_check(
        source, sink, rulebook=load_rulebook(), now=datetime(2026, 3, 1, tzinfo=UTC), **options
    )
    return [json.loads(line) for line in sink.getvalue().splitlines()]


def decode_error(message_type: str, body: dict[str, Any]) -> MessageDecodeError:
    with pytest.raises(MessageDecodeError) as caught:
        decode_body(message_type, body)
    return caught.value


# ---- 1. a lot's arrival on its own -------------------------------------------------------


def test_a_lot_arrival_alone_is_previewed_as_the_request_would_be_decided() -> None:
    lines = scene("issued_alloy_lot.jsonl")[:-1]  # no warrant request
    records = check_lines(lines, preview=True)
    previews = [r for r in records if "preview" in r]
    assert [(r["line"], r["preview"]["type"]) for r in previews] == [(6, "custody.warrant.issued")]
    assert all("type" not in r for r in previews)  # never mistaken for a published one


def test_a_preview_changes_nothing_the_following_lines_see() -> None:
    lines = scene("issued_alloy_lot.jsonl")
    with_preview = check_lines(lines, preview=True)
    without = check_lines(lines)
    assert [r for r in with_preview if "preview" not in r] == without
    issued = [r for r in without if r.get("type") == "custody.warrant.issued"]
    assert issued[0]["body"]["request_id"] == "REQ-0001"  # the real request, not the preview


def test_a_preview_gives_the_rejection_with_its_reasons() -> None:
    records = check_lines(scene("rejected_lots.jsonl"), preview=True)
    first = next(r for r in records if "preview" in r)["preview"]
    assert first["type"] == "custody.warrant.rejected"
    assert "LOT_WEIGHT_OUT_OF_TOLERANCE" in {v["code"] for v in first["body"]["violations"]}


def test_no_preview_when_a_request_already_waits_for_the_lot() -> None:
    records = check_lines(scene("pending_until_the_ecoa_arrives.jsonl"), preview=True)
    assert not [r for r in records if "preview" in r]


def test_the_console_command_previews_by_default_and_not_with_no_preview(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(SCENARIOS / "rejected_lots.jsonl")
    assert main(["check", path, "--now", NOW]) == 0
    shown = capsys.readouterr()
    assert sum('"preview"' in line for line in shown.out.splitlines()) == 2
    assert "2 previews (not sent)" in shown.err
    assert main(["check", path, "--now", NOW, "--no-preview"]) == 0
    assert '"preview"' not in capsys.readouterr().out


# ---- 2. the text format ----------------------------------------------------------------


def test_the_text_format_is_for_a_person(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(SCENARIOS / "rejected_lots.jsonl")
    assert main(["check", path, "--now", NOW, "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert "line 8: PREVIEW (not sent, state unchanged): a warrant request now would be " in out
    assert "line 9: custody.warrant.rejected  (brand NORDAL, lot_id LOT-RTM-0003" in out
    assert re.search(
        r"^    - LOT_WEIGHT_OUT_OF_TOLERANCE \(Aluminium Alloy SCR 2, 3\.1\): ", out, re.M
    )
    assert "[net_weight_kg: observed 20504 kg; allowed 19600-20400 kg]" in out
    assert not any(line.startswith("{") for line in out.splitlines())


def test_the_text_format_shows_errors_and_what_a_decision_waits_for(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", str(SCENARIOS / "malformed_lines.jsonl"), "--format", "text"]) == 1
    out = capsys.readouterr().out
    assert "line 4: error unknown_type at type: unknown message type 'custody.lot.vanished'" in out
    path = str(SCENARIOS / "pending_until_the_ecoa_arrives.jsonl")
    assert main(["check", path, "--now", NOW, "--format", "text"]) == 0
    assert "    - waiting for C26-0201 (SCR 4.1): " in capsys.readouterr().out


def test_the_machine_format_stays_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SCENARIOS / "issued_alloy_lot.jsonl"), "--now", NOW]) == 0
    assert all(json.loads(line) for line in capsys.readouterr().out.splitlines())


# ---- 3. errors that give the fix ------------------------------------------------------


def test_a_date_error_gives_the_format() -> None:
    recorded = scene("issued_alloy_lot.jsonl")[1]
    body = {**recorded["body"], "production_date": "10/02/2026"}
    error = decode_error(recorded["type"], body)
    assert error.field == "production_date"
    assert "(got '10/02/2026'); expected a date YYYY-MM-DD, e.g. 2026-03-01" in error.message


def test_a_time_error_gives_the_format_with_a_zone() -> None:
    request = scene("issued_alloy_lot.jsonl")[-1]
    for given in ("2026-03-02T09:00:00", "2 March"):
        error = decode_error(request["type"], {**request["body"], "requested_at": given})
        assert "expected an RFC 3339 time with a zone, e.g. 2026-03-01T09:00:00Z" in error.message


def test_an_element_by_name_gets_the_symbol_form_not_a_regex() -> None:
    recorded = scene("issued_alloy_lot.jsonl")[1]
    for given in ("Copper", "Xx"):
        chemistry = [
            {"element": given, "detected_percent": 3.0},
            *recorded["body"]["chemistry"][1:],
        ]
        error = decode_error(recorded["type"], {**recorded["body"], "chemistry": chemistry})
        assert error.field == "chemistry[0].element"
        assert "a chemical element symbol, e.g. Cu, Si, Fe" in error.message
        assert "[A-Z]" not in error.message


def test_an_enum_error_lists_the_allowed_values_and_the_closest() -> None:
    recorded = scene("issued_alloy_lot.jsonl")[1]
    error = decode_error(recorded["type"], {**recorded["body"], "contract": "aluminum_alloy"})
    assert "'aluminum_alloy' is not allowed (did you mean 'aluminium_alloy'?)" in error.message
    assert "allowed: 'high_grade_primary', 'aluminium_alloy' or 'nasaac'" in error.message


def test_a_misspelt_type_gets_the_closest_types_and_a_wild_one_every_type() -> None:
    body = scene("issued_alloy_lot.jsonl")[-2]["body"]
    close = decode_error("custody.lot.arived", body)
    assert close.message.startswith("unknown message type 'custody.lot.arived'; did you mean ")
    assert "custody.lot.arrived" in close.message
    wild = decode_error("nonsense", body)
    assert "valid types: " in wild.message and "custody.warrant.request" in wild.message
    assert len(wild.message) <= TEXT_MAX_CHARACTERS


def test_the_registry_decoder_gives_the_same_texts_to_its_dead_letters() -> None:
    headers = [
        ("ce_id", b"1"),
        ("ce_source", b"test"),
        ("ce_type", b"custody.lot.arived"),
        ("ce_specversion", b"1.0"),
        ("ce_time", b"2026-03-02T09:00:00"),
        ("ce_partyid", b"warehouse-rotterdam-07"),
        ("content-type", b"application/json"),
    ]
    with pytest.raises(MessageDecodeError) as no_zone:
        decode_message(headers, b"{}")
    assert no_zone.value.field == "ce_time"
    assert "expected an RFC 3339 time with a zone" in no_zone.value.message
    headers[4] = ("ce_time", b"2026-03-02T09:00:00Z")
    with pytest.raises(MessageDecodeError) as misspelt:
        decode_message(headers, b"{}")
    assert "did you mean custody.lot.arrived" in misspelt.value.message


def test_many_problems_are_counted_within_the_contracts_limits() -> None:
    recorded = scene("issued_alloy_lot.jsonl")[1]
    chemistry = [{"element": "Copper" * 50, "detected_percent": 3.0}] * 40
    error = decode_error(recorded["type"], {**recorded["body"], "chemistry": chemistry})
    assert f"and {40 - MAX_PROBLEMS} more" in error.message
    assert len(error.message) <= TEXT_MAX_CHARACTERS
    assert error.field is not None and len(error.field) <= FIELD_PATH_MAX_CHARACTERS


def test_other_problems_keep_pydantics_text() -> None:
    with pytest.raises(ValidationError) as caught:
        RequestWarrant.model_validate({"schema_version": 1})
    assert problem_text(caught.value.errors()[0]) == "Field required"


# ---- 4. no traceback for a user's mistake ---------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["check", "/no/such/file.jsonl"], "gateway: cannot read /no/such/file.jsonl: No such"),
        (["check", str(SCENARIOS)], f"gateway: cannot read {SCENARIOS}: Is a directory"),
        (["check", "--now", "yesterday"], "gateway: check: argument --now: 'yesterday' is not"),
        (
            ["check", "--notice-date", "2025/01/01"],
            "gateway: check: argument --notice-date: '2025/01/01' is not a date YYYY-MM-DD",
        ),
        (["check", "--format", "xml"], "gateway: check: argument --format: invalid choice"),
        (["check", "--rulebook", "/no/rulebook.json"], "gateway: cannot read the rulebook"),
        (["no-such-command"], "gateway: argument COMMAND: invalid choice"),
        (["check", "--bogus"], "gateway: unrecognized arguments: --bogus"),
    ],
)
def test_a_users_mistake_is_one_line_and_exit_2(
    arguments: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = exit_status(arguments)
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(expected), err
    assert err.count("\n") == 1 and "Traceback" not in err


def exit_status(arguments: list[str]) -> int | str | None:
    """What ``gateway ARGUMENTS`` exits with, returned or raised (argparse exits)."""
    try:
        return main(arguments)
    except SystemExit as ended:
        return ended.code


def test_a_file_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe{}\n")
    assert main(["check", str(binary)]) == 2
    assert capsys.readouterr().err.startswith(f"gateway: {binary} is not UTF-8 text (byte 0xff")


def test_an_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root every file is readable: the refusal is the operating system's, stood in for."""
    locked = tmp_path / "locked.jsonl"

    def refused(path: object, *_: object, **__: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("gateway.tools.cli.open", refused, raising=False)
    assert main(["check", str(locked)]) == 2
    assert capsys.readouterr().err == f"gateway: cannot read {locked}: Permission denied\n"


def test_a_rulebook_not_json_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rulebook = tmp_path / "rulebook.json"
    rulebook.write_text('{"version":', encoding="utf-8")
    assert main(["check", "--rulebook", str(rulebook), str(SCENARIOS / "cbam_dates.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gateway: cannot read the rulebook {rulebook}: Invalid JSON")
    assert err.count("\n") == 1


# ---- 5. help ---------------------------------------------------------------------------

COMMANDS = (
    "run",
    "demo",
    "topics",
    "kafka",
    "serve",
    "token",
    "key",
    "schemas",
    "bench",
    "faults",
    "topology",
    "check",
)


def test_every_command_has_a_one_line_help_and_a_description() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    helps = {choice.dest: choice.help for choice in subparsers._choices_actions}  # type: ignore[attr-defined]
    for name in COMMANDS:
        assert helps[name] and "\n" not in helps[name], name
        command = subparsers.choices[name]  # type: ignore[index]
        assert command.description and len(command.description) > 40, name


@pytest.mark.parametrize("name", COMMANDS)
def test_help_is_plain_text_not_rest(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        main([name, "--help"])
    assert ended.value.code == 0
    out = capsys.readouterr().out
    assert "``" not in out and not re.search(r"::$", out, re.M), out


def test_check_help_describes_the_preview_and_the_formats(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    assert "gateway check: dry-run messages" in out
    assert "preview" in out and "--format {jsonl,text}" in out


def test_make_kafka_status_without_a_broker_exits_0_with_a_clear_line(tmp_path: Path) -> None:
    """The Makefile's recipe, run as make runs it, on a run directory with no broker (the
    ``install`` prerequisite is left out: it may install system packages)."""
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nkafka-status:", 1)[1].splitlines()[1].strip().lstrip("@")
    assert recipe == "$(BIN)/gateway kafka status || [ $$? -eq 3 ]"
    gateway = f"{sys.executable} -m gateway.tools.cli"
    command = recipe.replace("$(BIN)/gateway", gateway).replace("$$", "$")
    environment = {
        **os.environ,
        "GATEWAY_RUN_DIR": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    environment.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    done = subprocess.run(
        ["sh", "-c", command], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"no local broker is running (run directory {tmp_path})\n"

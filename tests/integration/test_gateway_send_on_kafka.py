"""``gateway send``, run as a party runs it, against a registry on the session broker: the
exchange lists a brand, its producer uploads 5,000 casts as CSV, and every record gets its
decision back, line by line, with the summary."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from contracts.base import Contract
from contracts.production import ProductionBatchRecorded
from contracts.values import ElementLevel, PartyRole
from gateway.tools.send import write_casts_csv
from producers.parties import DEMO_PARTIES
from producers.simulation import PRODUCER, cast, list_brand
from tests.conftest import TestTopics
from tests.integration.registry_support import GATEWAY, registry_settings, running_registry
from tests.unit.test_form_xlsx import _filled

pytestmark = pytest.mark.broker

BRAND = "SENDBRAND"
CASTS = 5_000
OFF_SPEC = 7
EXCHANGE = DEMO_PARTIES[PartyRole.EXCHANGE]


async def gateway_send(
    topics: TestTopics, *arguments: str
) -> tuple[int, list[dict[str, Any]], str]:
    return await gateway_cli(topics, "send", *arguments)


async def gateway_cli(topics: TestTopics, *arguments: str) -> tuple[int, list[dict[str, Any]], str]:
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": topics.bootstrap_servers,
        "GATEWAY_TOPIC_PREFIX": topics.prefix,
    }
    process = await asyncio.create_subprocess_exec(
        str(GATEWAY),
        *arguments,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    lines = [json.loads(line) for line in out.decode().splitlines()]
    return process.returncode, lines, err.decode()


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> tuple[str, list[str], list[str]]:
    """The README's ``gateway send`` example: the CSV, the command and what it prints."""
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- send-example -->", 1)[1].split("<!-- /send-example -->", 1)[0]
    csv_text = block.split("```csv\n", 1)[1].split("```", 1)[0]
    console = block.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    assert console[0].startswith("$ gateway send ")
    return csv_text, console[0].removeprefix("$ gateway send ").split(), console[1:]


async def the_readme_example_runs_as_written(topics: TestTopics, tmp_path: Path) -> None:
    csv_text, arguments, shown = readme_example()
    (tmp_path / arguments[0]).write_text(csv_text, encoding="utf-8")
    arguments[0] = str(tmp_path / arguments[0])
    status, lines, err = await gateway_send(topics, *arguments, "--timeout", "30")
    expected = [json.loads(line) for line in shown if line.startswith("{")]
    for line in (*lines, *expected):
        line.pop("ce_id")
    assert lines == expected
    assert next(line for line in shown if line.startswith("gateway send:")) in err
    assert status == 1


async def a_producer_sends_its_excel_form(topics: TestTopics, tmp_path: Path) -> None:
    """`gateway form import FORM.xlsx --send`: the form read from the workbook, signed and
    sent as its producer, and the registry's decision printed as `gateway send` does."""
    workbook = _filled(tmp_path / "nordal-2025.xlsx")
    status, lines, err = await gateway_cli(
        topics, "form", "import", str(workbook), "--send", "--as", PRODUCER,
        "--now", "2026-03-09T14:30:00Z", "--timeout", "30", "--quiet",
    )  # fmt: skip
    assert status == 0, err
    [line] = lines
    assert (line["outcome"], line["type"]) == ("accepted", "custody.cbam-form.accepted"), line
    assert "1 sent, 1 accepted, 0 rejected, 0 dead letters, 0 without a decision" in err


def json_lines(path: Path, *bodies: Contract) -> Path:
    path.write_text(
        "".join(
            json.dumps({"type": body.MESSAGE_TYPE, "body": body.model_dump(mode="json")}) + "\n"
            for body in bodies
        ),
        encoding="utf-8",
    )
    return path


def off_spec(reference: str) -> ProductionBatchRecorded:
    """A cast with three times A380.1's copper: rejected."""
    good = cast(BRAND, reference)
    levels = tuple(
        ElementLevel(element=level.element, detected_percent=level.detected_percent * 3)
        if level.element == "Cu"
        else level
        for level in good.chemistry
    )
    return good.model_copy(update={"chemistry": levels})


async def test_a_producer_sends_5000_casts_and_reads_each_decision(
    topics: TestTopics, tmp_path: Path
) -> None:
    listing = json_lines(tmp_path / "listing.jsonl", list_brand(BRAND), list_brand("NORDAL"))
    wrong_sender = json_lines(tmp_path / "wrong.jsonl", cast(BRAND, "C26-BY-THE-EXCHANGE"))
    casts = [
        off_spec(f"C26-{n:05}") if n % (CASTS // OFF_SPEC) == 1 else cast(BRAND, f"C26-{n:05}")
        for n in range(CASTS)
    ]
    rejected = sum(1 for n in range(CASTS) if n % (CASTS // OFF_SPEC) == 1)
    upload = tmp_path / "upload.csv"
    with upload.open("w", encoding="utf-8", newline="") as sink:
        write_casts_csv(casts, sink)

    async with running_registry(registry_settings(topics, tmp_path / "state")):
        status, lines, err = await gateway_send(
            topics, str(listing), "--as", EXCHANGE, "--timeout", "30"
        )
        assert status == 0, err
        assert [(line["line"], line["outcome"], line["type"]) for line in lines] == [
            (1, "accepted", "custody.brand.listed"),
            (2, "accepted", "custody.brand.listed"),
        ]
        assert "2 sent, 2 accepted, 0 rejected, 0 dead letters, 0 without a decision" in err

        await the_readme_example_runs_as_written(topics, tmp_path)
        await a_producer_sends_its_excel_form(topics, tmp_path)

        started = time.monotonic()
        status, lines, err = await gateway_send(
            topics, str(upload), "--as", PRODUCER, "--timeout", "45"
        )
        took = time.monotonic() - started

        refused = await gateway_send(topics, str(wrong_sender), "--as", EXCHANGE, "--timeout", "30")
    status_refused, [letter], err_refused = refused
    assert status_refused == 1, err_refused  # a cast the exchange sends is a dead letter
    assert (letter["outcome"], letter["reason"]) == ("dead_letter", "sender_not_permitted")
    assert letter["field"] == "ce_partyid" and letter["message"]
    assert "1 sent, 0 accepted, 0 rejected, 1 dead letters" in err_refused

    assert status == 1, err[-2000:]
    assert len(lines) == CASTS
    assert [line["line"] for line in lines] == list(range(2, CASTS + 2))
    assert len({line["ce_id"] for line in lines}) == CASTS
    outcomes = Counter(line["outcome"] for line in lines)
    assert outcomes == {"accepted": CASTS - rejected, "rejected": rejected}
    for line in lines:
        if line["outcome"] == "rejected":
            assert line["type"] == "custody.production-batch.rejected"
            assert line["violations"][0]["code"]
            assert line["violations"][0]["message"]
    assert {n + 2 for n in range(CASTS) if n % (CASTS // OFF_SPEC) == 1} == {
        line["line"] for line in lines if line["outcome"] == "rejected"
    }
    assert (
        f"gateway send: {CASTS} sent, {CASTS - rejected} accepted, {rejected} rejected, "
        "0 dead letters, 0 without a decision" in err
    )
    assert "sending [" in err and f"{CASTS}/{CASTS}" in err  # the progress bar
    print(f"gateway send: {CASTS} casts decided in {took:.1f} s")

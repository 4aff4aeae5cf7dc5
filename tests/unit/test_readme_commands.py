"""Every command the README shows runs in a test, taking its text from the README.

``WHERE_EACH_RUNS`` names, for each shown command, the function that runs it (a test, or the
helper or fixture a test runs it through). The inventory test fails when the README shows a
command no entry covers, when an entry covers nothing, or when a named function is gone or
does not read the README. The commands too long for ``make test`` (the benchmark, the long
fault run) are parsed here by the CLI they are written for, and are their own make targets.
The commands that need no broker run here.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import json
import shlex
from pathlib import Path

import pytest
from openpyxl import load_workbook

from contracts.signatures import SigningKey
from gateway.tools.cli import build_parser
from gateway.tools.form_xlsx import SUMMARY_SHEET
from tests.readme_commands import (
    REPOSITORY,
    readme_command,
    run_line,
    shown_commands,
    starts_with,
)
from tests.unit.test_form_xlsx import _filled

THIS = "tests/unit/test_readme_commands.py"
LIFECYCLE = "tests/integration/test_broker_lifecycle.py"
README_EXAMPLES = "tests/integration/test_readme_api_examples_on_kafka.py"

LONG_RUNS = (f"{THIS}::test_the_long_runs_are_the_commands_of_their_targets",)
LOCAL_BROKER = (f"{LIFECYCLE}::test_up_down_and_up_again_is_clean",)
FORM_LINES = (f"{THIS}::test_the_form_commands_in_their_order",)
KEY_LINES = (f"{THIS}::test_a_key_and_its_public_key_for_the_parties_file",)

WHERE_EACH_RUNS: dict[str, tuple[str, ...]] = {
    "make demo": ("tests/integration/test_demo.py::run_demo",),
    "make test": (f"{THIS}::test_make_test_is_what_ci_runs",),
    "make kafka-up": LOCAL_BROKER,
    ".venv/bin/gateway run": (f"{LIFECYCLE}::_the_readme_gateway_run_serves_until_sigterm",),
    "make kafka-status": LOCAL_BROKER,
    "make kafka-down": LOCAL_BROKER,
    "curl": (
        f"{README_EXAMPLES}::test_every_api_example_in_the_readme_answers_as_it_says",
        f"{README_EXAMPLES}::test_every_report_example_in_the_readme_answers_as_it_says",
    ),
    ".venv/bin/python -m consumers.warrant_state_subscriber": (
        "tests/integration/test_warrant_state_subscriber_on_kafka.py::the_readme_command_prints",
    ),
    "kcat": (f"{README_EXAMPLES}::test_the_kcat_one_liner_prints_the_holders_warrant_state",),
    "make bench": LONG_RUNS,
    ".venv/bin/gateway bench throughput": LONG_RUNS,
    ".venv/bin/gateway bench latency": LONG_RUNS,
    ".venv/bin/gateway bench signatures": LONG_RUNS,
    ".venv/bin/gateway bench --help": (f"{THIS}::test_bench_help_lists_every_scenario",),
    ".venv/bin/gateway check my-lot.jsonl": (f"{THIS}::test_the_dry_run_of_a_lot",),
    ".venv/bin/gateway form template": FORM_LINES,
    ".venv/bin/gateway form import": FORM_LINES,
    "(grep": FORM_LINES,
    "gateway send": (
        "tests/integration/test_gateway_send_on_kafka.py::the_readme_example_runs_as_written",
    ),
    "make kafka-up-secure": (
        "tests/integration/secured_broker_support.py::_started_by_the_readme",
    ),
    "gateway key": KEY_LINES,
    "openssl pkey": KEY_LINES,
    "make faults": LONG_RUNS,
    ".venv/bin/gateway faults": ("tests/integration/test_faults.py::short_run",),
}


def _function(node: str) -> object:
    path, name = node.split("::")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return getattr(module, name)


def test_every_command_the_readme_shows_has_a_test_that_runs_it() -> None:
    shown = shown_commands()
    assert len(shown) >= 35
    uncovered = [c for c in shown if not any(starts_with(c, p) for p in WHERE_EACH_RUNS)]
    assert uncovered == [], "README commands no test runs (add them to WHERE_EACH_RUNS)"
    stale = [p for p in WHERE_EACH_RUNS if not any(starts_with(c, p) for c in shown)]
    assert stale == [], "entries of WHERE_EACH_RUNS the README no longer shows"
    for prefix, nodes in WHERE_EACH_RUNS.items():
        for node in nodes:
            source = inspect.getsource(_function(node))  # type: ignore[arg-type]
            assert "readme_" in source, f"{node} runs {prefix!r} without reading the README"


def test_the_extraction_joins_continued_lines_and_drops_comments() -> None:
    text = (
        "```sh\n"
        "make x   # a comment\n"
        "tool --a 1 \\\n"
        "    --b 2\n"
        "# a whole-line comment\n"
        "```\n"
        "```json\n"
        '{"not": "a command"}\n'
        "```\n"
        "```console\n"
        "$ tool --c\n"
        "what it prints\n"
        "```\n"
        "```sh\n"
        "make x\n"
        "```\n"
    )
    assert shown_commands(text) == ["make x", "tool --a 1 --b 2", "tool --c"]


def test_make_test_is_what_ci_runs() -> None:
    """`make test` runs the tests this is one of: CI's script calls it, and nothing else."""
    assert readme_command("make test") == "make test"
    commands = [
        line.strip()
        for line in (REPOSITORY / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert any(line.endswith("make test") for line in commands), commands


def test_the_long_runs_are_the_commands_of_their_targets() -> None:
    """Too long for `make test` (the benchmark's scenarios, about 22 min; the long fault
    run, about 10 min): their make targets run the gateway commands the README names, and
    the commands' options are the CLI's (a misspelt option fails here)."""
    for target, command in (("make bench", "gateway bench"), ("make faults", "gateway faults")):
        assert readme_command(target) == target
        plan = run_line(f"{target} -n")
        assert plan.returncode == 0, plan.stderr
        assert f".venv/bin/{command}" in plan.stdout, plan.stdout
    parser = build_parser()
    throughput = parser.parse_args(
        shlex.split(readme_command(".venv/bin/gateway bench throughput"))[1:]
    )
    assert (throughput.scenarios, throughput.repeat, throughput.backlog) == (
        ["throughput"],
        5,
        50_000,
    )
    assert throughput.json == Path("figures.json")
    latency = parser.parse_args(shlex.split(readme_command(".venv/bin/gateway bench latency"))[1:])
    assert (latency.scenarios, latency.rates, latency.step_seconds) == (
        ["latency"],
        (250, 500, 1000),
        30.0,
    )
    signatures = parser.parse_args(
        shlex.split(readme_command(".venv/bin/gateway bench signatures"))[1:]
    )
    assert signatures.scenarios == ["signatures"]


def test_bench_help_lists_every_scenario() -> None:
    done = run_line(readme_command(".venv/bin/gateway bench --help"))
    assert done.returncode == 0, done.stderr
    for scenario in ("throughput", "latency", "restore", "state-size", "ledger", "signatures"):
        assert scenario in done.stdout


def test_the_dry_run_of_a_lot(tmp_path: Path) -> None:
    """`gateway check my-lot.jsonl --now ...` on a warehouse's file (the issued-lot scenario):
    every decision printed as a JSON line, the warrant issued, status 0."""
    scenario = REPOSITORY / "tests" / "scenarios" / "issued_alloy_lot.jsonl"
    (tmp_path / "my-lot.jsonl").write_text(scenario.read_text(encoding="utf-8"), encoding="utf-8")
    done = run_line(readme_command(".venv/bin/gateway check my-lot.jsonl"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    decided = [json.loads(line) for line in done.stdout.splitlines()]
    assert "custody.warrant.issued" in {line.get("type") for line in decided}
    assert "gateway check: 7 messages" in done.stderr


def test_the_form_commands_in_their_order(tmp_path: Path) -> None:
    """The README's form lines one after the other in one directory: a blank template (then
    filled in as a producer would), its import to a JSON line, and the check of that line
    after its brand's listing, which accepts the form."""
    template = run_line(readme_command(".venv/bin/gateway form template"), cwd=tmp_path)
    assert template.returncode == 0, template.stderr
    workbook = tmp_path / "nordal-2025.xlsx"
    assert SUMMARY_SHEET in load_workbook(workbook).sheetnames
    _filled(workbook)

    imported = run_line(readme_command(".venv/bin/gateway form import"), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    line = json.loads((tmp_path / "nordal-2025.json").read_text(encoding="utf-8"))
    assert (line["type"], line["body"]["brand"]) == ("custody.cbam-form.submitted", "NORDAL")

    checked = run_line(readme_command("(grep"), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines() == [
        "line 1: custody.brand.listed  (brand NORDAL)",
        f"line 2: custody.cbam-form.accepted  (brand NORDAL, form_id {line['body']['form_id']}, "
        "reporting_year 2025)",
    ]


def test_a_key_and_its_public_key_for_the_parties_file(tmp_path: Path) -> None:
    """`gateway key PARTY --out FILE`, then the README's openssl line: the public key it
    prints is the one the gateway derives from the same file."""
    made = run_line(readme_command("gateway key"), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    pem = tmp_path / "antwerp.pem"
    assert pem.stat().st_mode & 0o777 == 0o600
    public = run_line(readme_command("openssl pkey"), cwd=tmp_path)
    assert public.returncode == 0, public.stderr
    printed = public.stdout.strip()
    assert len(base64.b64decode(printed, validate=True)) == 32
    assert printed == SigningKey.from_file("warehouse-antwerp-02", pem).public_key
    assert printed in made.stdout


@pytest.mark.parametrize("prefix", ["make demo", ".venv/bin/gateway run"])
def test_a_prefix_names_one_command(prefix: str) -> None:
    assert starts_with(readme_command(prefix), prefix)

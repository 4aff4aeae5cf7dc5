"""``gateway``: the project's console command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError

import gateway.tools.check
import gateway.tools.demo
import gateway.tools.faults
import gateway.tools.form_xlsx
import gateway.tools.send as send
from consumers.kafka_access import KafkaAccessError
from contracts.asyncapi import ASYNCAPI_FILE, stale_asyncapi, write_asyncapi
from contracts.error_text import DATE_FORMAT, TIME_FORMAT
from contracts.parties import PartiesFileError
from contracts.schema_export import SCHEMA_DIRECTORY, stale_schemas, write_schemas
from contracts.signatures import SigningKey
from contracts.topics import CATALOGUE
from gateway.rulebook.model import FormDeadline
from gateway.runtime.api_tokens import digest, new_token
from gateway.runtime.app import GatewayApp, configured_rulebook, create_app
from gateway.runtime.garbage import tune_for_service
from gateway.runtime.logging_setup import configure_json_logging, log_loop_exceptions
from gateway.runtime.settings import Settings
from gateway.runtime.topic_admin import ensure_topics
from gateway.tools.bench.runner import add_arguments as add_bench_arguments
from gateway.tools.bench.runner import description as bench_description
from gateway.tools.bench.runner import run_bench
from gateway.tools.check import OUTPUT_FORMATS, run_check
from gateway.tools.demo import run_demo
from gateway.tools.faults import FaultOptions, print_report, run_faults
from gateway.tools.form_xlsx import FormImportError, form_line, import_form, write_template
from gateway.tools.local_kafka import BrokerError, LocalKafka
from gateway.tools.secured_kafka import (
    password_variable,
    secured_broker_of,
    start_secured,
    write_record,
)
from gateway.topology import asyncapi_channels, readers_of
from gateway.topology import render as render_topology
from producers.samples import sample_messages

STOP_TIMEOUT_S = 30.0
"""How long a stop waits for open transactions and clients to close (e.g. during an outage)."""


def _kafka_up(settings: Settings, arguments: argparse.Namespace) -> int:
    if arguments.secure or arguments.tls or arguments.parties:
        return _kafka_up_secured(settings, arguments)
    if settings.kafka_bootstrap_servers:
        bootstrap = settings.kafka_bootstrap_servers
        print(f"KAFKA_BOOTSTRAP_SERVERS is set: using the broker at {bootstrap}")
    else:
        info = LocalKafka.from_settings(settings).start(log=_progress)
        bootstrap = info.bootstrap_servers
        print(info.describe())
    report = asyncio.run(
        ensure_topics(
            bootstrap,
            CATALOGUE,
            settings.topic_prefix,
            max_record_bytes=settings.max_record_bytes,
        )
    )
    print(f"topics: {len(report.created)} created, {len(report.already_present)} already present")
    print(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap}")
    return 0


def _kafka_up_secured(settings: Settings, arguments: argparse.Namespace) -> int:
    if settings.kafka_bootstrap_servers:
        print(
            "gateway: --secure starts the local broker; unset KAFKA_BOOTSTRAP_SERVERS",
            file=sys.stderr,
        )
        return 2
    kafka = LocalKafka.from_settings(settings)
    broker, info, report = start_secured(
        kafka, settings, parties_file=arguments.parties, tls=arguments.tls, log=_progress
    )
    print(info.describe())
    print(report.describe())
    print(f"topics of the catalogue created as {broker.admin_principal}")
    print("to run the gateway on it, export:")
    for line in broker.environment_lines():
        print(f"  {line}")
    return 0


def _kafka_acls(settings: Settings, arguments: argparse.Namespace) -> int:
    kafka = LocalKafka.from_settings(settings)
    broker = secured_broker_of(kafka, settings)
    if arguments.parties is not None:
        broker = replace(broker, parties_file=arguments.parties.resolve())
        write_record(kafka, broker)
    print(broker.apply().describe())
    return 0


def _kafka_password(settings: Settings, arguments: argparse.Namespace) -> int:
    if not arguments.principal:
        print(
            "gateway: `kafka password` needs the party (or the gateway's principal)",
            file=sys.stderr,
        )
        return 2
    broker = secured_broker_of(LocalKafka.from_settings(settings), settings)
    broker.rotate_password(arguments.principal)
    where = (
        f"${password_variable(arguments.principal)}"
        if broker.secrets.from_environment(arguments.principal) is not None
        else str(broker.secrets.file_of(arguments.principal))
    )
    print(f"{arguments.principal}: new password in force (from {where}); the old one is refused")
    return 0


def _kafka_down(settings: Settings, arguments: argparse.Namespace) -> int:
    if LocalKafka.from_settings(settings).stop():
        print("local broker stopped")
    else:
        print("no local broker was running")
    return 0


# What `gateway kafka status` exits with when no local broker runs (scripts test for it).
NO_LOCAL_BROKER = 3


def _kafka_status(settings: Settings, arguments: argparse.Namespace) -> int:
    kafka = LocalKafka.from_settings(settings)
    info = kafka.status()
    if info is None:
        secured = kafka.recorded_security()
        hint = "; it is secured: `gateway kafka up --secure`" if secured else ""
        print(f"no local broker is running (run directory {settings.run_dir}{hint})")
        return NO_LOCAL_BROKER
    print(info.describe())
    return 0


def _topics(settings: Settings) -> int:
    for spec in CATALOGUE:
        print(
            f"{settings.topic_prefix}{spec.name:<36} {spec.partitions:>2} partitions  "
            f"{spec.cleanup_policy.value:<8} key={spec.key:<14} "
            f"writers={','.join(role.value for role in spec.writer_roles)}"
            f"{_read_by(spec.name)}"
        )
        for message_type in spec.message_types:
            print(f"    {message_type.MESSAGE_TYPE}")
    return 0


def _read_by(topic: str) -> str:
    readers = readers_of(topic)
    return f" read by {','.join(reader.value for reader in readers)}" if readers else ""


def _schemas(check: bool) -> int:
    samples = sample_messages()
    if check:
        stale = stale_schemas(SCHEMA_DIRECTORY, samples) + stale_asyncapi(
            ASYNCAPI_FILE, asyncapi_channels(), samples
        )
        if stale:
            print("stale JSON Schemas (run `make schemas`): " + ", ".join(stale))
            return 1
        print(f"JSON Schemas in {SCHEMA_DIRECTORY} are up to date")
        return 0
    changed = write_schemas(SCHEMA_DIRECTORY, samples) + write_asyncapi(
        ASYNCAPI_FILE, asyncapi_channels(), samples
    )
    print(f"{len(changed)} JSON Schema / AsyncAPI files changed: {', '.join(changed) or '-'}")
    return 0


def _form(settings: Settings, arguments: argparse.Namespace) -> int:
    if arguments.action == "template":
        write_template(arguments.file)
        print(f"blank CBAM emissions form written to {arguments.file}", file=sys.stderr)
        return 0
    if arguments.send and not arguments.party:
        print("gateway form import: --send needs --as PARTY (the producer)", file=sys.stderr)
        return 2
    rulebook = configured_rulebook(settings)
    today = (arguments.now or datetime.now(UTC)).date()
    try:
        form = import_form(arguments.file, rulebook=rulebook, today=today, brand=arguments.brand)
    except FormImportError as error:
        for problem in error.problems:
            print(f"gateway form import: {problem}", file=sys.stderr)
        return 1
    line = form_line(form)
    if arguments.out is None and not arguments.send:
        sys.stdout.write(line)
    elif arguments.out is not None:
        arguments.out.write_text(line, encoding="utf-8")
        print(
            f"form {form.form_id} of {form.brand} for {form.reporting_year} written to "
            f"{arguments.out}; check it with `gateway check {arguments.out}`",
            file=sys.stderr,
        )
    if not arguments.send:
        return 0
    at = arguments.now or datetime.now(UTC)
    read = send.read_json_lines(line.splitlines(), arguments.party, at)
    return _send_read(settings, arguments, read, command="gateway form import")


def _check(settings: Settings, arguments: argparse.Namespace) -> int:
    given = {
        "rulebook_file": arguments.rulebook,
        "cbam_notice_date": arguments.notice_date,
        "cbam_form_deadline": arguments.form_deadline,
        "cbam_first_form_deadline": arguments.first_form_deadline,
        "cbam_verification_start": arguments.verification_start,
    }
    settings = settings.model_copy(update={k: v for k, v in given.items() if v is not None})
    try:
        rulebook = configured_rulebook(settings)
    except (OSError, ValueError) as error:  # pydantic's ValidationError is a ValueError
        where = settings.rulebook_file or "the bundled rulebook"
        return _user_error(f"cannot read the rulebook {where}: {_one_line(error)}")
    cbam = rulebook.cbam
    now = arguments.now or datetime.now(UTC)
    check = partial(
        run_check,
        rulebook=rulebook,
        now=now,
        exchange_parties=settings.exchange_parties,
        registry_party=settings.registry_party_id,
        preview=arguments.preview,
        output_format=arguments.format,
    )
    try:
        if arguments.file == "-":
            report = check(sys.stdin, sys.stdout)
        else:
            with open(arguments.file, encoding="utf-8") as source:
                report = check(source, sys.stdout)
    except OSError as error:
        return _user_error(f"cannot read {arguments.file}: {error.strerror or error}")
    except UnicodeDecodeError as error:
        return _user_error(
            f"{arguments.file} is not UTF-8 text (byte 0x{error.object[error.start]:02x} at "
            f"position {error.start}); JSON Lines must be UTF-8"
        )
    print(
        f"gateway check: {report.messages} messages, {report.outputs} outputs, "
        f"{report.malformed} malformed lines, {report.refused} refused, "
        f"{report.previews} previews (not sent), "
        f"{report.without_sender} without a sender (judged by the rulebook only) "
        f"(rulebook {rulebook.version}, notice date {cbam.notice_date}, first form "
        f"deadline {cbam.deadline_for(cbam.first_reporting_year)}, yearly deadline "
        f"{cbam.form_deadline.month:02d}-{cbam.form_deadline.day:02d}, verification from "
        f"{cbam.verification_start})",
        file=sys.stderr,
    )
    return 1 if report.malformed else 0


def _user_error(message: str) -> int:
    """A user's mistake: one line on stderr, exit status 2, never a traceback."""
    print(f"gateway: {message}", file=sys.stderr)
    return 2


def _one_line(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        return f"{where + ': ' if where else ''}{first['msg']}{more}"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(error).split())


def _send(settings: Settings, arguments: argparse.Namespace) -> int:
    path: Path = arguments.file
    if not path.is_file():
        print(f"gateway send: no such file: {path}", file=sys.stderr)
        return 2
    party: str = arguments.party
    try:
        read = send.read_file(path, party, arguments.now or datetime.now(UTC))
    except (OSError, UnicodeDecodeError) as error:
        print(f"gateway send: cannot read {path}: {error}", file=sys.stderr)
        return 2
    for problem in read.errors:
        print(f"gateway send: {path}: {problem}", file=sys.stderr)
    if read.errors and not arguments.skip_invalid:
        print(
            f"gateway send: {len(read.errors)} invalid line(s); nothing sent "
            "(--skip-invalid sends the others)",
            file=sys.stderr,
        )
        return 2
    return _send_read(settings, arguments, read, command="gateway send")


def _send_read(
    settings: Settings, arguments: argparse.Namespace, read: send.ReadFile, *, command: str
) -> int:
    """Publish what was read as ``arguments.party`` and print each record's decision (the
    lines ``read`` could not take are reported as skipped)."""
    party: str = arguments.party
    update: dict[str, object] = {}
    if arguments.username:
        update["kafka_username"] = arguments.username
    if arguments.password_file:
        update.update(kafka_password=None, kafka_password_file=arguments.password_file)
    settings = settings.model_copy(update=update)
    try:
        access = settings.kafka_access(arguments.bootstrap_servers)
        key = (
            SigningKey.from_file(party, arguments.signing_key)
            if arguments.signing_key is not None
            else None
        )
    except (KafkaAccessError, OSError, ValueError) as error:
        print(f"{command}: {error}", file=sys.stderr)
        return 2
    if not access.bootstrap_servers:
        print(f"{command}: no broker: set KAFKA_BOOTSTRAP_SERVERS", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(
            send.send_messages(
                read.messages,
                access=access,
                party=party,
                topic_prefix=settings.topic_prefix,
                signing_key=key,
                timeout_s=arguments.timeout,
                progress=None if arguments.quiet else sys.stderr,
            )
        )
    except send.SendFailed as error:
        print(f"{command}: {error}", file=sys.stderr)
        return 3
    for skipped in read.errors:
        print(
            json.dumps(
                {
                    "line": skipped.line,
                    "error": {"field": skipped.field, "message": skipped.message},
                },
                ensure_ascii=False,
            )
        )
    for line in send.result_lines(report, arguments.timeout):
        print(line)
    print(send.summary(report, len(read.errors)), file=sys.stderr)
    return send.exit_status(report, len(read.errors))


def _month_day(text: str) -> str:
    try:
        FormDeadline.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _sending_options(parser: argparse.ArgumentParser, *, party_required: bool) -> None:
    """The options of a command that publishes as a party (`send`, `form import --send`)."""
    parser.add_argument(
        "--as", dest="party", required=party_required, help="the sending party's id"
    )
    parser.add_argument("--signing-key", type=Path, help="the party's Ed25519 key (PEM)")
    parser.add_argument("--username", help="broker principal (default GATEWAY_KAFKA_USERNAME)")
    parser.add_argument("--password-file", type=Path, help="file holding the principal's password")
    parser.add_argument(
        "--bootstrap-servers", help="broker address (default KAFKA_BOOTSTRAP_SERVERS)"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for decisions (60)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _aware_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {TIME_FORMAT}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; expected {TIME_FORMAT}")
    return moment


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {DATE_FORMAT}") from None


def plain_text(doc: str | None) -> str:
    """A module's reStructuredText docstring as plain text for ``--help``: literals without
    their backquotes, a literal block's ``::`` as ``:``."""
    text = re.sub(r"``([^`]+)``", r"\1", doc or "")
    text = re.sub(r"::$", ":", text, flags=re.MULTILINE)
    return text.strip()


class _Parser(argparse.ArgumentParser):
    """Bad options are a user's mistake: one line ``gateway: ...`` on stderr, exit 2."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("gateway").strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"gateway: {where}{message} (see `{self.prog} --help`)\n")


def _run(settings: Settings, *, engines: bool = True) -> int:
    configure_json_logging(logging.getLevelNamesMapping().get(settings.log_level.upper(), 20))
    if not settings.kafka_bootstrap_servers:
        running = LocalKafka.from_settings(settings).status()
        if running is None:
            print(
                "gateway: no broker: set KAFKA_BOOTSTRAP_SERVERS or `make kafka-up`",
                file=sys.stderr,
            )
            return 2
        settings = settings.model_copy(
            update={"kafka_bootstrap_servers": running.bootstrap_servers}
        )
    app = create_app(settings)
    tune_for_service()
    return asyncio.run(_serve(app, engines=engines))


def _key(party: str, out: Path) -> int:
    """A new Ed25519 signing key for ``party``: the private key into ``out`` (0600), and the
    public key for the exchange's parties file."""
    if out.exists():
        print(f"gateway: {out} exists; a signing key is never overwritten", file=sys.stderr)
        return 2
    key = SigningKey.generate(party)
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key.to_pem())
    print(f"private key of {party} written to {out} (keep it; it is not shown)")
    print(f'parties file entry: "signing_keys": ["{key.public_key}"]')
    return 0


def _token(party: str) -> int:
    """A new API token for ``party``, and the line of the tokens file that names it."""
    token = new_token()
    print(f"token (give it to {party}; it is shown once): {token}")
    print(f'tokens file entry: {{"{party}": ["{digest(token)}"]}}')
    return 0


async def _serve(app: GatewayApp, *, engines: bool = True) -> int:
    """Run until SIGTERM or SIGINT, then stop cleanly (exit 0), even during an outage."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    log_loop_exceptions(loop)
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    running = asyncio.create_task(app.run(stop, engines=engines))
    signalled = asyncio.create_task(stop.wait())
    await asyncio.wait({running, signalled}, return_when=asyncio.FIRST_COMPLETED)
    signalled.cancel()
    if running.done():
        running.result()  # it ended before any signal: a fault in start-up is raised
        return 0
    try:
        await asyncio.wait_for(asyncio.shield(running), timeout=STOP_TIMEOUT_S)
    except TimeoutError:
        running.cancel()
        await asyncio.wait({running}, timeout=5)
        print(
            f"gateway: stopped after {STOP_TIMEOUT_S:.0f} s of waiting for Kafka", file=sys.stderr
        )
    return 0


def _topology() -> int:
    print(render_topology(), end="")
    return 0


def _bench(settings: Settings, arguments: argparse.Namespace) -> int:
    configure_json_logging(logging.WARNING)
    # Its clients outlive the topics of each measurement, which it deletes: aiokafka then
    # logs every metadata refresh that misses them.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return asyncio.run(run_bench(settings, LocalKafka.from_settings(settings), arguments))


def _faults(settings: Settings, arguments: argparse.Namespace) -> int:
    configure_json_logging(logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    report = asyncio.run(run_faults(fault_options(arguments, settings), settings))
    print_report(report)
    return 0 if report.passed else 1


def fault_options(arguments: argparse.Namespace, settings: Settings) -> FaultOptions:
    """What `gateway faults`' options ask for (its own broker unless one is given)."""
    return FaultOptions(
        events=arguments.events,
        kills=arguments.kills,
        broker_restarts=arguments.broker_restarts,
        seed=arguments.seed,
        duration_s=arguments.duration,
        drain_timeout_s=arguments.drain_timeout,
        recovery_timeout_s=arguments.recovery_timeout,
        run_dir=arguments.run_dir,
        own_broker=not settings.kafka_bootstrap_servers,
    )


def _demo(settings: Settings) -> int:
    return asyncio.run(run_demo(settings, LocalKafka.from_settings(settings)))


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gateway",
        description="The custody gateway of the aluminium chain of custody. "
        "`gateway COMMAND --help` describes each command.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, help_line: str, description: str, *, epilog: str | None = None, raw: bool = False
    ) -> argparse.ArgumentParser:
        """A command with its one-line help and its description (``raw``: kept as written)."""
        formatter = argparse.RawDescriptionHelpFormatter if raw else argparse.HelpFormatter
        return commands.add_parser(
            name, help=help_line, description=description, epilog=epilog, formatter_class=formatter
        )

    kafka = command(
        "kafka",
        "the local Apache Kafka broker (no Docker): up, down, status, acls, password",
        "Manage the local Apache Kafka broker the gateway runs on without Docker: `up` starts "
        "it (and creates the catalogue's topics), `down` stops it, `status` says whether it "
        "runs and where, `acls` applies the parties file's ACLs, `password` rotates a "
        "party's SCRAM password.",
        epilog=f"`status` exits {NO_LOCAL_BROKER} when no local broker is running "
        "(`make kafka-status` exits 0 then).",
    )
    kafka.add_argument("action", choices=["up", "down", "status", "acls", "password"])
    kafka.add_argument(
        "principal", nargs="?", help="`password`: the party (or gateway principal) to rotate"
    )
    kafka.add_argument(
        "--secure",
        action="store_true",
        help="`up`: SASL/SCRAM on the client listener, ACLs from the parties file enforced",
    )
    kafka.add_argument("--tls", action="store_true", help="`up --secure` with TLS (SASL_SSL)")
    kafka.add_argument(
        "--parties",
        type=Path,
        help="`up --secure`, `acls`: the parties file (GATEWAY_PARTIES_FILE)",
    )

    command(
        "topics",
        "list the topic catalogue",
        "List every topic of the catalogue (under GATEWAY_TOPIC_PREFIX): partitions, cleanup "
        "policy, key, the roles that write it, the processors that read it and its message "
        "types.",
    )
    command(
        "topology",
        "print the flow: each processor's topics, contracts, handlers, outputs",
        "Print the gateway's flow: for each processor the topics it reads, the contracts and "
        "handlers it applies and the topics it writes.",
    )

    schemas = command(
        "schemas",
        "write the contracts' JSON Schemas and the AsyncAPI document",
        "Write the contracts' JSON Schemas (contracts/schemas/) and the AsyncAPI document "
        "(with the samples as examples); --check only reports stale files (exit 1).",
    )
    schemas.add_argument("--check", action="store_true", help="only report stale schemas")

    check = command(
        "check",
        "dry-run JSON Lines messages through the rulebook and print the decisions",
        plain_text(gateway.tools.check.__doc__),
        raw=True,
    )
    check.add_argument("file", nargs="?", default="-", help="JSON Lines file (default stdin)")
    check.add_argument("--now", type=_aware_time, help=f"decision time ({TIME_FORMAT})")
    check.add_argument(
        "--format",
        choices=OUTPUT_FORMATS,
        default="jsonl",
        help="jsonl: one JSON object a record, for programs (default); text: for a person",
    )
    check.add_argument(
        "--no-preview",
        dest="preview",
        action="store_false",
        help="no preview of a warrant request after a lot's arrival",
    )
    check.add_argument("--rulebook", type=Path, help="rulebook JSON file")
    check.add_argument("--notice-date", type=_iso_date, help="SCR 4.2 notice date (YYYY-MM-DD)")
    check.add_argument(
        "--form-deadline",
        type=_month_day,
        help="yearly CBAM form deadline, MM-DD of the year after the reporting year (03-15)",
    )
    check.add_argument(
        "--first-form-deadline",
        type=_iso_date,
        help="deadline of the first reporting year's form (YYYY-MM-DD), if moved",
    )
    check.add_argument(
        "--verification-start",
        type=_iso_date,
        help="first day a CBAM form must be verified (YYYY-MM-DD, 2024-01-01)",
    )

    form = commands.add_parser(
        "form",
        help="the CBAM emissions form as Excel: `import FORM.xlsx` to its JSON line, "
        "`template OUT.xlsx` a blank form",
        description=gateway.tools.form_xlsx.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    form.add_argument("action", choices=["import", "template"])
    form.add_argument("file", type=Path, help="the workbook to read (import) or write (template)")
    form.add_argument("--out", type=Path, help="import: write the JSON line here (default stdout)")
    form.add_argument("--brand", help="import: the brand, where the form leaves it blank")
    form.add_argument("--now", type=_aware_time, help="import: the day the checks apply at")
    form.add_argument(
        "--send",
        action="store_true",
        help="import: send the form as --as PARTY and report its decision, as `gateway send`",
    )
    _sending_options(form, party_required=False)

    command(
        "run",
        "run the registry, the ledger and the read side until SIGTERM or Ctrl-C",
        "Run the gateway: the registry and the ledger processors, the read side and the "
        "parties' HTTP API, on the broker of KAFKA_BOOTSTRAP_SERVERS (else the running local "
        "one), until SIGTERM or Ctrl-C; it then stops cleanly, exit 0.",
    )
    command(
        "serve",
        "run the read side and the parties' HTTP API alone, until SIGTERM",
        "Run the read side and the parties' HTTP API without the registry and ledger "
        "processors: an instance that only answers the parties, until SIGTERM or Ctrl-C.",
    )
    key = command(
        "key",
        "make an Ed25519 signing key for a party",
        "Make a new Ed25519 signing key for a party: the private key is written to --out "
        "(mode 0600, never overwritten), the public key printed as the parties file's entry.",
    )
    sender = command(
        "send",
        "publish messages as a party and report the registry's decision on each",
        plain_text(send.__doc__ or ""),
        raw=True,
    )
    sender.add_argument("file", type=Path, help="JSON Lines file, or a .csv of casts")
    _sending_options(sender, party_required=True)
    sender.add_argument("--now", type=_aware_time, help="ce_time of lines without one")
    sender.add_argument(
        "--skip-invalid", action="store_true", help="send the lines that can be read"
    )
    key.add_argument("party", help="the party id that signs with it")
    key.add_argument("--out", type=Path, required=True, help="where to write the private key")
    token = command(
        "token",
        "make an API token for a party",
        "Make a new API token for a party: the token is shown once, with the digest line of "
        "the tokens file that names it (only the digest is stored).",
    )
    token.add_argument("party", help="the party id the token names")

    bench = command(
        "bench",
        "measure the registry (as `gateway run`) against bare aiokafka pipes on the "
        "same broker: scenarios throughput, latency",
        plain_text(bench_description()),
        raw=True,
    )
    add_bench_arguments(bench)

    command(
        "demo",
        "run the demo flow end to end through the broker",
        plain_text(gateway.tools.demo.__doc__),
        raw=True,
    )

    faults = command(
        "faults",
        "the fault test: a workload with poison records while `gateway run` is killed "
        "with SIGKILL and the broker restarted; checks every input's outcome",
        plain_text(gateway.tools.faults.__doc__),
        raw=True,
    )
    faults.add_argument("--events", type=int, default=20_000, help="records sent (20000)")
    faults.add_argument("--kills", type=int, default=10, help="kill -9 of the gateway (10)")
    faults.add_argument(
        "--broker-restarts", type=int, default=2, help="broker restarts under the gateway (2)"
    )
    faults.add_argument("--seed", type=int, default=1, help="workload and fault moments (1)")
    faults.add_argument(
        "--duration", type=float, help="seconds of sending (default 30 per fault, at least 60)"
    )
    faults.add_argument(
        "--drain-timeout", type=float, default=300.0, help="seconds to wait for the end (300)"
    )
    faults.add_argument(
        "--recovery-timeout", type=float, default=90.0, help="seconds to wait after a fault (90)"
    )
    faults.add_argument("--run-dir", type=Path, help="where logs and the report go")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        return _user_error(f"the settings (GATEWAY_* and KAFKA_* variables): {_one_line(error)}")
    try:
        if arguments.command == "kafka":
            action = {
                "up": _kafka_up,
                "down": _kafka_down,
                "status": _kafka_status,
                "acls": _kafka_acls,
                "password": _kafka_password,
            }
            return action[arguments.action](settings, arguments)
        if arguments.command == "topics":
            return _topics(settings)
        if arguments.command == "topology":
            return _topology()
        if arguments.command == "schemas":
            return _schemas(arguments.check)
        if arguments.command == "check":
            return _check(settings, arguments)
        if arguments.command == "form":
            return _form(settings, arguments)
        if arguments.command == "send":
            return _send(settings, arguments)
        if arguments.command == "run":
            return _run(settings)
        if arguments.command == "serve":
            return _run(settings, engines=False)
        if arguments.command == "key":
            return _key(arguments.party, arguments.out)
        if arguments.command == "token":
            return _token(arguments.party)
        if arguments.command == "bench":
            return _bench(settings, arguments)
        if arguments.command == "faults":
            return _faults(settings, arguments)
        return _demo(settings)
    except (BrokerError, PartiesFileError) as error:
        print(f"gateway: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

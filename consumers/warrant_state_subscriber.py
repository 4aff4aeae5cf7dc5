"""An example subscriber for a warrant holder's developer: follow the state of your warrants.

    python -m consumers.warrant_state_subscriber --bootstrap localhost:9092 \\
        --holder member-northsea-metals --group member-northsea-metals.warrant-feed

On the exchange's secured broker add ``--security-protocol SASL_PLAINTEXT --password-file
FILE`` (your principal is your party id, and your group must start with it and a dot: the
broker's ACLs let you read this topic, and only in such groups).

It prints one JSON line per change of a warrant you hold (issued to you, or cancelled), read
from ``registry.warrant-state`` with FastStream. Copy it and put your own handling in
``on_change``. Three settings matter:

- ``isolation_level="read_committed"``: the registry writes in Kafka transactions. With the
  default (read_uncommitted) you would also see records of transactions that were aborted,
  e.g. a warrant the registry wrote and then, having stopped before its commit, decided again.
- a ``group_id`` of your own, so that a restart resumes where it stopped (offsets are
  committed after each record is handled: at least once, so make ``on_change`` idempotent —
  the record's ``lot_id`` and ``updated_at`` identify a change);
- ``auto_offset_reset="earliest"``: the topic is compacted, so a new group reads the current
  state of every lot first, then the changes.

Records of other holders are on the same topic (it is keyed by lot); the filter below keeps
yours. Emissions are not on this topic: read them from the HTTP API (``/v1/warrants``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import SecretStr

from consumers.kafka_access import Broker, KafkaAccess, faststream_options
from contracts.envelope import MessageDecodeError, decode_message
from contracts.warrants import WarrantStateChanged

TOPIC = "registry.warrant-state"


def change_of(state: WarrantStateChanged) -> dict[str, Any]:
    """What a holder wants to know of a change, as JSON."""
    return {
        "lot_id": state.lot_id,
        "warrant_id": state.warrant_id,
        "state": state.state.value,
        "brand": state.brand,
        "warehouse_id": state.warehouse_id,
        "cancellation_reason": state.cancellation_reason,
        "updated_at": state.updated_at.isoformat(),
    }


def holder_feed(
    bootstrap_servers: Broker,
    *,
    holder_id: str,
    group_id: str,
    on_change: Callable[[dict[str, Any]], None],
    topic_prefix: str = "",
) -> KafkaBroker:
    """A broker whose one subscriber calls ``on_change`` for each change of the holder's
    warrants. Nothing connects until ``broker.start()``."""
    broker = KafkaBroker(**faststream_options(bootstrap_servers), logger=None)

    async def no_body(_message: Any, _original: Any) -> None:
        return None

    @broker.subscriber(
        topic_prefix + TOPIC,
        group_id=group_id,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        ack_policy=AckPolicy.ACK,
        decoder=no_body,
        title="holder-warrant-feed",
        description="A holder follows the state of its warrants (read committed).",
    )
    async def on_record(_body: Any, message: KafkaMessage) -> None:
        record = message.raw_message
        if not isinstance(record, ConsumerRecord):
            return
        try:
            decoded = decode_message(record.headers, record.value)
        except MessageDecodeError:
            return  # not a warrant state this version knows: passed over
        state = decoded.body
        if isinstance(state, WarrantStateChanged) and state.warrant_holder_id == holder_id:
            on_change(change_of(state))

    return broker


def _access(arguments: argparse.Namespace) -> KafkaAccess:
    if arguments.security_protocol == "PLAINTEXT":
        return KafkaAccess(arguments.bootstrap)
    password = arguments.password_file.read_text(encoding="utf-8").splitlines()[0]
    return KafkaAccess(
        arguments.bootstrap,
        security_protocol=arguments.security_protocol,
        username=arguments.username or arguments.holder,
        password=SecretStr(password),
        ca_file=arguments.ca_file,
    )


async def _follow(arguments: argparse.Namespace) -> None:
    def print_line(change: dict[str, Any]) -> None:
        print(json.dumps(change, sort_keys=True), flush=True)

    broker = holder_feed(
        _access(arguments),
        holder_id=arguments.holder,
        group_id=arguments.group,
        on_change=print_line,
        topic_prefix=arguments.topic_prefix,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    await broker.start()
    try:
        await stop.wait()
    finally:
        await broker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Follow the state of a holder's warrants.")
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--holder", required=True, help="your party id (warrant holder)")
    parser.add_argument("--group", required=True, help="your consumer group id")
    parser.add_argument("--topic-prefix", default="", help="the gateway's topic prefix")
    parser.add_argument(
        "--security-protocol",
        default="PLAINTEXT",
        choices=["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"],
        help="SASL_PLAINTEXT or SASL_SSL on the exchange's secured broker",
    )
    parser.add_argument("--username", help="your broker principal (your party id)")
    parser.add_argument("--password-file", type=Path, help="a file holding your broker password")
    parser.add_argument("--ca-file", type=Path, help="the broker's CA certificate (SASL_SSL)")
    asyncio.run(_follow(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

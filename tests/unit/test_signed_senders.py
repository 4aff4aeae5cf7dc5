"""Signed records: the signature proves the sender, and ce_partyid must name that sender.

Pure: the signing input, the verification, and the registry's and the ledger's steps with a
parties file's keys. The same records go through the real secured broker in
tests/integration/test_gateway_on_secured_broker.py.
"""

from __future__ import annotations

import base64
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.base import Contract
from contracts.dead_letter import DeadLetterReason, DeadLetterRecorded
from contracts.envelope import decode_message
from contracts.lots import LotArrived
from contracts.parties import PartiesFile, PartyEntry, Role
from contracts.signatures import HEADER_SIGNATURE, HEADER_SIGNED_BY, SigningKey, signing_input
from gateway.ledger import LedgerState
from gateway.processors import ledger as ledger_processor
from gateway.processors.records import InputRecord
from gateway.processors.registry import Outcome, process_record
from gateway.processors.signed_senders import signing_keys_of
from gateway.registry.state import RegistryState
from tests.unit.test_ledger_pipeline import SETTINGS as LEDGER_SETTINGS
from tests.unit.test_ledger_pipeline import record as unsigned_ledger_record
from tests.unit.test_ledger_pipeline import setup as ledger_setup
from tests.unit.test_registry import scenario_messages
from tests.unit.test_registry_custody_moves import claimed_scenario
from tests.unit.test_registry_pipeline import NOW, SENDERS
from tests.unit.test_registry_pipeline import SETTINGS as REGISTRY_SETTINGS
from tests.unit.test_registry_pipeline import record_of as unsigned_record_of

ROTTERDAM = SigningKey.generate("warehouse-rotterdam-07")
ANTWERP = SigningKey.generate("warehouse-antwerp-02")
SMELTER = SigningKey.generate("smelter-nordal")
EXCHANGE = SigningKey.generate("exchange-listing-desk")
GATEWAY = SigningKey.generate("custody-registry")
OPERATORS = {name: SigningKey.generate(name) for name in ("smelter-a", "warehouse-1")}
KEYS = {key.party_id: key for key in (ROTTERDAM, ANTWERP, SMELTER, EXCHANGE, *OPERATORS.values())}
PARTIES = PartiesFile(
    parties=(
        PartyEntry(
            id=ROTTERDAM.party_id, roles=(Role.WAREHOUSE,), signing_keys=(ROTTERDAM.public_key,)
        ),
        PartyEntry(
            id=ANTWERP.party_id, roles=(Role.WAREHOUSE,), signing_keys=(ANTWERP.public_key,)
        ),
        PartyEntry(id=SMELTER.party_id, roles=(Role.PRODUCER,), signing_keys=(SMELTER.public_key,)),
        PartyEntry(
            id=EXCHANGE.party_id, roles=(Role.EXCHANGE,), signing_keys=(EXCHANGE.public_key,)
        ),
        *(
            PartyEntry(id=key.party_id, roles=(Role.PRODUCER,), signing_keys=(key.public_key,))
            for key in OPERATORS.values()
        ),
        PartyEntry(id="holder-fjord-capital", roles=(Role.HOLDER,)),
    )
)
SIGNING_KEYS = signing_keys_of(PARTIES, **{GATEWAY.party_id: (GATEWAY.public_key_bytes,)})
SECURED = replace(REGISTRY_SETTINGS, signing_keys=SIGNING_KEYS, signer=GATEWAY)
SECURED_LEDGER = replace(LEDGER_SETTINGS, signing_keys=SIGNING_KEYS)


def signed(record: InputRecord, key: SigningKey) -> InputRecord:
    headers = key.signed_headers(record.topic, record.key, record.headers, record.value or b"")
    return replace(record, headers=headers)


def signed_record_of(body: Contract, offset: int, sender: str | None = None) -> InputRecord:
    record = unsigned_record_of(body, offset, sender)
    party = sender or SENDERS.get(type(body).__name__, "smelter-nordal")
    return signed(record, KEYS[party])


def dead_letter_of(result) -> DeadLetterRecorded:  # type: ignore[no-untyped-def]
    assert result.outcome is Outcome.DEAD_LETTER
    letter = decode_message(result.outputs[0].headers, result.outputs[0].value).body
    assert isinstance(letter, DeadLetterRecorded)
    return letter


def a_lot() -> LotArrived:
    return next(m for m in scenario_messages() if isinstance(m, LotArrived))


# ---- the signature itself ------------------------------------------------------------


def test_a_signed_record_verifies_and_names_its_signer() -> None:
    record = signed_record_of(a_lot(), 0)
    assert (HEADER_SIGNED_BY, b"warehouse-rotterdam-07") in record.headers
    result = process_record(RegistryState(), record, now=NOW, settings=SECURED)
    assert result.outcome is Outcome.DECIDED


def test_every_signed_part_breaks_the_signature_when_changed() -> None:
    record = signed_record_of(a_lot(), 0)
    changed = {
        "value": replace(record, value=(record.value or b"").replace(b"RTM", b"RTX", 1)),
        "key": replace(record, key=b"OTHER"),
        "topic": replace(record, topic="warehouse.warrant-requests"),
        "a ce_ header": replace(
            record,
            headers=[
                (name, b"2026-03-02T12:00:01+00:00" if name == "ce_time" else value)
                for name, value in record.headers
            ],
        ),
        "an added ce_ header": replace(record, headers=[*record.headers, ("ce_extra", b"x")]),
    }
    assert changed["value"].value != record.value
    for what, tampered in changed.items():
        letter = dead_letter_of(
            process_record(RegistryState(), tampered, now=NOW, settings=SECURED)
        )
        assert letter.error.kind is DeadLetterReason.SENDER_NOT_AUTHENTICATED, what
        assert letter.error.field == HEADER_SIGNATURE, what
        assert "does not verify with any signing key of warehouse-rotterdam-07" in (
            letter.error.message
        ), what


def test_a_header_outside_the_envelope_may_be_added_on_the_way() -> None:
    record = signed_record_of(a_lot(), 0)
    traced = replace(record, headers=[*record.headers, ("traceparent", b"00-abc-def-01")])
    assert process_record(RegistryState(), traced, now=NOW, settings=SECURED).outcome is (
        Outcome.DECIDED
    )


def test_a_forged_party_id_is_a_dead_letter_naming_both_parties() -> None:
    """Antwerp announces a lot as Rotterdam's: signed with its own key, claiming Rotterdam."""
    lot = a_lot()
    forged = signed(unsigned_record_of(lot, 0, "warehouse-rotterdam-07"), ANTWERP)
    letter = dead_letter_of(process_record(RegistryState(), forged, now=NOW, settings=SECURED))
    assert letter.error.kind is DeadLetterReason.SENDER_NOT_AUTHENTICATED
    assert letter.error.field == "ce_partyid"
    assert "warehouse-rotterdam-07" in letter.error.message
    assert "warehouse-antwerp-02" in letter.error.message


def test_a_signer_claiming_another_key_does_not_verify() -> None:
    """Antwerp signs with its key but names Rotterdam as the signer as well."""
    record = unsigned_record_of(a_lot(), 0, "warehouse-rotterdam-07")
    headers = [*record.headers, (HEADER_SIGNED_BY, b"warehouse-rotterdam-07")]
    signature = base64.b64encode(
        ANTWERP._key.sign(signing_input(record.topic, record.key, headers, record.value))
    )
    forged = replace(record, headers=[*headers, (HEADER_SIGNATURE, signature)])
    letter = dead_letter_of(process_record(RegistryState(), forged, now=NOW, settings=SECURED))
    assert letter.error.field == HEADER_SIGNATURE


def test_an_unsigned_record_and_an_unknown_signer_are_dead_letters() -> None:
    unsigned = unsigned_record_of(a_lot(), 0)
    letter = dead_letter_of(process_record(RegistryState(), unsigned, now=NOW, settings=SECURED))
    assert letter.error.field == HEADER_SIGNED_BY
    assert "not signed" in letter.error.message
    stranger = SigningKey.generate("warehouse-rotterdam-07")  # a key the exchange never saw
    letter = dead_letter_of(
        process_record(RegistryState(), signed(unsigned, stranger), now=NOW, settings=SECURED)
    )
    assert letter.error.field == HEADER_SIGNATURE
    outsider = SigningKey.generate("warehouse-elsewhere-01")
    record = unsigned_record_of(a_lot(), 0, "warehouse-elsewhere-01")
    letter = dead_letter_of(
        process_record(RegistryState(), signed(record, outsider), now=NOW, settings=SECURED)
    )
    assert "no signing key in the exchange's parties file" in letter.error.message


def test_during_a_rotation_either_key_of_a_party_verifies() -> None:
    new_key = SigningKey.generate("warehouse-rotterdam-07")
    rotating = signing_keys_of(
        PartiesFile(
            parties=(
                PartyEntry(
                    id="warehouse-rotterdam-07",
                    roles=(Role.WAREHOUSE,),
                    signing_keys=(ROTTERDAM.public_key, new_key.public_key),
                ),
            )
        )
    )
    pipeline = replace(REGISTRY_SETTINGS, signing_keys=rotating)
    record = unsigned_record_of(a_lot(), 0)
    for key in (ROTTERDAM, new_key):
        outcome = process_record(RegistryState(), signed(record, key), now=NOW, settings=pipeline)
        assert outcome.outcome is Outcome.DECIDED


@settings(max_examples=200, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=10_000),
    flip=st.integers(min_value=1, max_value=255),
    part=st.sampled_from(["value", "key", "header", "signature"]),
)
def test_any_flipped_byte_of_a_signed_record_is_set_aside(
    position: int, flip: int, part: str
) -> None:
    record = signed_record_of(a_lot(), 0)

    def flipped(raw: bytes) -> bytes:
        at = position % len(raw)
        return raw[:at] + bytes([raw[at] ^ flip]) + raw[at + 1 :]

    if part == "value":
        tampered = replace(record, value=flipped(record.value or b""))
    elif part == "key":
        tampered = replace(record, key=flipped(record.key or b""))
    else:
        wanted = HEADER_SIGNATURE if part == "signature" else "ce_source"
        tampered = replace(
            record,
            headers=[(n, flipped(v) if n == wanted else v) for n, v in record.headers],
        )
    result = process_record(RegistryState(), tampered, now=NOW, settings=SECURED)
    assert result.outcome is Outcome.DEAD_LETTER


# ---- through the registry and the ledger --------------------------------------------


def test_the_signed_scenario_issues_its_warrant_and_signs_the_custody_moves() -> None:
    state, results = RegistryState(), []
    for offset, body in enumerate(claimed_scenario()):
        result = process_record(state, signed_record_of(body, offset), now=NOW, settings=SECURED)
        state = result.state
        results.append(result)
    assert all(result.outcome is Outcome.DECIDED for result in results)
    outputs = [output for result in results for output in result.outputs]
    moves = [output for output in outputs if output.topic == "ledger.commands"]
    assert moves, "the scenario moves custody"
    for move in moves:
        assert (HEADER_SIGNED_BY, b"custody-registry") in move.headers
        decided = ledger_processor.process_ledger_record(
            LedgerState(),
            InputRecord("ledger.commands", 0, 0, None, move.key, move.value, move.headers),
            now=NOW,
            settings=SECURED_LEDGER,
        )
        assert decided.outcome is not Outcome.DEAD_LETTER
    others = [output for output in outputs if output.topic != "ledger.commands"]
    assert others and all(
        name != HEADER_SIGNED_BY for output in others for name, _ in output.headers
    ), "what only the gateway writes is protected by the broker's ACLs, not signed"


def ledger_record(body: Contract, offset: int, sender: str, key: SigningKey) -> InputRecord:
    return signed(unsigned_ledger_record(body, offset, sender), key)


def test_the_ledger_books_signed_commands_and_sets_aside_a_forged_exchange_command() -> None:
    state = LedgerState()
    bodies = ledger_setup()
    for offset, (body, sender) in enumerate(bodies):
        signer = EXCHANGE if sender == "exchange-listing-desk" else OPERATORS[sender]
        result = ledger_processor.process_ledger_record(
            state, ledger_record(body, offset, sender, signer), now=NOW, settings=SECURED_LEDGER
        )
        assert result.outcome is Outcome.BOOKED, result
        state = result.state
    first_body, _ = bodies[0]
    forged = ledger_record(
        first_body.model_copy(update={"posting_id": "cert-forged"}),
        99,
        "exchange-listing-desk",
        SMELTER,
    )
    result = ledger_processor.process_ledger_record(state, forged, now=NOW, settings=SECURED_LEDGER)
    letter = dead_letter_of(result)
    assert letter.error.kind is DeadLetterReason.SENDER_NOT_AUTHENTICATED
    assert "exchange-listing-desk" in letter.error.message
    assert "smelter-nordal" in letter.error.message


def test_without_a_parties_file_an_unsigned_record_is_decided_as_before() -> None:
    record = unsigned_record_of(a_lot(), 0)
    assert (
        process_record(RegistryState(), record, now=NOW, settings=REGISTRY_SETTINGS).outcome
        is Outcome.DECIDED
    )

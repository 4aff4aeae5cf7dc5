"""The demo's parties as the exchange would register them: a parties file with each sending
party's Ed25519 public key, the private keys the simulated parties sign with, and the
gateway's own key. Everything is made fresh for a run, in the run's own directory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contracts.parties import PartiesFile, PartyEntry, Role
from contracts.signatures import SigningKey
from contracts.values import PartyRole
from gateway.tools.demo_readside import OUTSIDER
from producers.parties import DEMO_PARTIES
from producers.simulation import WARRANT_HOLDER

FORGER = "warehouse-antwerp-02"
"""A listed warehouse that, in the demo, announces a lot of another warehouse."""

_SENDERS: Mapping[str, tuple[Role, ...]] = {
    DEMO_PARTIES[PartyRole.PRODUCER]: (Role.PRODUCER,),
    DEMO_PARTIES[PartyRole.WAREHOUSE]: (Role.WAREHOUSE,),
    DEMO_PARTIES[PartyRole.MEMBER]: (Role.MEMBER,),
    DEMO_PARTIES[PartyRole.PERMITTED_PARTY]: (Role.PERMITTED_PARTY,),
    DEMO_PARTIES[PartyRole.EXCHANGE]: (Role.EXCHANGE,),
    FORGER: (Role.WAREHOUSE,),
}
_READERS: Mapping[str, tuple[Role, ...]] = {
    WARRANT_HOLDER: (Role.HOLDER, Role.IMPORTER),
    OUTSIDER: (Role.HOLDER,),
}


@dataclass(frozen=True)
class DemoParties:
    parties_file: Path
    signing_keys: Mapping[str, SigningKey]
    """Each sending party's private key (the simulated parties sign with them)."""
    gateway_key_file: Path

    @classmethod
    def create(cls, directory: Path, gateway_party: str) -> DemoParties:
        directory.mkdir(parents=True, exist_ok=True)
        keys = {party: SigningKey.generate(party) for party in _SENDERS}
        entries = [
            PartyEntry(id=party, roles=roles, signing_keys=(keys[party].public_key,))
            for party, roles in _SENDERS.items()
        ]
        entries += [PartyEntry(id=party, roles=roles) for party, roles in _READERS.items()]
        parties_file = directory / "parties.json"
        parties_file.write_text(
            PartiesFile(parties=tuple(entries)).model_dump_json(indent=2) + "\n", encoding="utf-8"
        )
        gateway_key_file = directory / f"{gateway_party}.signing-key.pem"
        descriptor = os.open(gateway_key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(SigningKey.generate(gateway_party).to_pem())
        return cls(parties_file, keys, gateway_key_file)

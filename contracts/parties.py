"""The parties file: who may connect to the exchange's broker, in which roles, with which keys.

The exchange keeps one JSON file naming every party: its id (which is also its broker
principal, ``User:<id>``), the roles it acts in, and the Ed25519 public keys it signs its
records with. The broker's ACLs are derived from it (a party writes only its roles' ingest
topics and reads only what its roles may subscribe to), and the gateway verifies every
record a party sends against the keys listed here. Passwords are never in it: they come
from the environment or a secret file.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PARTY_ID_PATTERN = r"^[a-z0-9][a-z0-9.-]{0,99}$"
ED25519_PUBLIC_KEY_BYTES = 32


class Role(StrEnum):
    """What a party may do on the broker: the sending roles of the topic catalogue, and the
    holders and importers who send nothing but follow their warrants."""

    PRODUCER = "producer"
    WAREHOUSE = "warehouse"
    MEMBER = "member"
    PERMITTED_PARTY = "permitted_party"
    EXCHANGE = "exchange"
    HOLDER = "holder"
    IMPORTER = "importer"


class PartyEntry(BaseModel):
    """One party of the exchange."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(
        pattern=PARTY_ID_PATTERN,
        description="The party id: its ce_partyid, and its broker principal User:<id>.",
    )
    roles: tuple[Role, ...] = Field(min_length=1, description="The roles it acts in.")
    signing_keys: tuple[str, ...] = Field(
        default=(),
        description="Base64 of each raw 32-byte Ed25519 public key its records may be signed "
        "with (two during a key rotation). A party that sends nothing needs none.",
    )

    @field_validator("signing_keys")
    @classmethod
    def _keys_are_ed25519(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        for key in keys:
            try:
                raw = base64.b64decode(key, validate=True)
            except (binascii.Error, ValueError) as error:
                raise ValueError(f"signing key {key[:16]!r}... is not base64: {error}") from None
            if len(raw) != ED25519_PUBLIC_KEY_BYTES:
                raise ValueError(
                    f"signing key {key[:16]!r}... is {len(raw)} bytes, not the "
                    f"{ED25519_PUBLIC_KEY_BYTES} of an Ed25519 public key"
                )
        return keys

    def public_keys(self) -> tuple[bytes, ...]:
        return tuple(base64.b64decode(key) for key in self.signing_keys)


class PartiesFile(BaseModel):
    """The whole file: ``{"parties": [...]}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    parties: tuple[PartyEntry, ...]

    @model_validator(mode="after")
    def _ids_are_unique(self) -> PartiesFile:
        seen: set[str] = set()
        for party in self.parties:
            if party.id in seen:
                raise ValueError(f"party {party.id} is listed twice")
            seen.add(party.id)
        return self

    def __iter__(self) -> Iterator[PartyEntry]:  # type: ignore[override]
        return iter(self.parties)

    def by_id(self) -> Mapping[str, PartyEntry]:
        return {party.id: party for party in self.parties}

    def with_roles(self, *roles: Role) -> tuple[PartyEntry, ...]:
        return tuple(party for party in self.parties if set(party.roles) & set(roles))


class PartiesFileError(ValueError):
    """The parties file cannot be read; the text names the file and what is wrong."""


def load_parties(path: Path) -> PartiesFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PartiesFileError(f"cannot read the parties file {path}: {error}") from None
    try:
        return PartiesFile.model_validate(json.loads(text))
    except json.JSONDecodeError as error:
        raise PartiesFileError(f"the parties file {path} is not JSON: {error}") from None
    except ValidationError as error:
        raise PartiesFileError(f"the parties file {path} is not valid: {error}") from None

"""Signed records: who sent a record, proven by the sender's Ed25519 key.

A Kafka consumer is not told which principal produced a record, and a ``ce_partyid`` header
is whatever its writer put there. So every record a party sends carries two more headers:

- ``ce_signedby``: the party whose key signed it;
- ``ce_signature``: base64 of the 64-byte Ed25519 signature over :func:`signing_input`.

What is signed: a fixed label, the catalogue topic name (without a deployment's prefix),
the record key, every ``ce_*`` header and ``content-type`` (sorted by name, then value;
``ce_signature`` itself left out), and the value. Each part is length-prefixed, so no two
different records share an input. A header outside those (a tracing header added on the
way) may come and go without breaking the signature; a changed body, key, topic or envelope
attribute breaks it.

The exchange registers each party's public keys in the parties file
(:mod:`contracts.parties`); the registry verifies every party's record against the keys of
its ``ce_signedby`` party and requires ``ce_partyid`` to name that same party. A party signs
with its private key, kept by it alone, as a PKCS#8 PEM file
(``openssl genpkey -algorithm ed25519``). Anyone holding the parties file can verify a
record again later, e.g. a holder checking that an Enhanced eCOA came from its producer.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HEADER_SIGNED_BY = "ce_signedby"
HEADER_SIGNATURE = "ce_signature"
SIGNATURE_BYTES = 64
_LABEL = b"custody-gateway signed record v1"
_SIGNED_HEADER_PREFIX = "ce_"
_CONTENT_TYPE = "content-type"

Headers = Sequence[tuple[str | bytes, bytes | None]]


def signing_input(topic: str, key: bytes | None, headers: Headers, value: bytes | None) -> bytes:
    """The bytes a record's signature is over."""
    parts: list[bytes] = [_LABEL, topic.encode("utf-8"), _optional(key)]
    signed = sorted(
        (name, header_value or b"")
        for name, header_value in (_text_header(raw_name, raw) for raw_name, raw in headers)
        if _is_signed(name)
    )
    parts.append(len(signed).to_bytes(4, "big"))
    for name, header_value in signed:
        parts.extend((name.encode("utf-8", "surrogateescape"), header_value))
    parts.append(_optional(value))
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


class SigningKey:
    """A party's private key, and the headers that sign a record with it."""

    def __init__(self, party_id: str, private_key: Ed25519PrivateKey) -> None:
        self.party_id = party_id
        self._key = private_key

    @classmethod
    def generate(cls, party_id: str) -> SigningKey:
        return cls(party_id, Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, party_id: str, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"the signing key of {party_id} is not an Ed25519 private key")
        return cls(party_id, key)

    @classmethod
    def from_file(cls, party_id: str, path: Path) -> SigningKey:
        return cls.from_pem(party_id, path.read_bytes())

    def to_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public_key_bytes(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def public_key(self) -> str:
        """Base64 of the raw public key, as the parties file lists it."""
        return base64.b64encode(self.public_key_bytes).decode("ascii")

    def __repr__(self) -> str:  # never the key itself
        return f"SigningKey({self.party_id!r}, public={self.public_key})"

    def signed_headers(
        self, topic: str, key: bytes | None, headers: Iterable[tuple[str, bytes]], value: bytes
    ) -> list[tuple[str, bytes]]:
        """``headers`` with ``ce_signedby`` and ``ce_signature`` added (any earlier ones
        replaced)."""
        kept = [
            (name, raw) for name, raw in headers if name not in (HEADER_SIGNED_BY, HEADER_SIGNATURE)
        ]
        kept.append((HEADER_SIGNED_BY, self.party_id.encode("utf-8")))
        signature = self._key.sign(signing_input(topic, key, kept, value))
        kept.append((HEADER_SIGNATURE, base64.b64encode(signature)))
        return kept


@dataclass(frozen=True)
class SignatureProblem:
    """Why a record's signature does not prove its sender: which header, and what is wrong."""

    header: str
    message: str


def signature_problem(
    topic: str,
    key: bytes | None,
    headers: Headers,
    value: bytes | None,
    public_keys_of: Mapping[str, tuple[bytes, ...]],
) -> tuple[str | None, SignatureProblem | None]:
    """The party a record is proven to come from, or why it is not proven.

    Returns ``(signer, None)`` when ``ce_signature`` verifies with one of the keys
    ``public_keys_of[signer]`` (``signer`` from ``ce_signedby``), else ``(signer or None,
    problem)``."""
    signed_by = _single(headers, HEADER_SIGNED_BY)
    signature_text = _single(headers, HEADER_SIGNATURE)
    if signed_by is None:
        return None, SignatureProblem(
            HEADER_SIGNED_BY, "the record is not signed: it has no ce_signedby header"
        )
    if signature_text is None:
        return signed_by, SignatureProblem(
            HEADER_SIGNATURE, f"the record names signer {signed_by} but has no ce_signature"
        )
    keys = public_keys_of.get(signed_by)
    if not keys:
        return signed_by, SignatureProblem(
            HEADER_SIGNED_BY,
            f"signer {signed_by} has no signing key in the exchange's parties file",
        )
    try:
        signature = base64.b64decode(signature_text, validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if base64.b64encode(signature).decode("ascii") != signature_text:
        signature = b""  # one text per signature: no spare bits, no missing padding
    if len(signature) != SIGNATURE_BYTES:
        return signed_by, SignatureProblem(
            HEADER_SIGNATURE, f"ce_signature is not base64 of a {SIGNATURE_BYTES}-byte signature"
        )
    signed = signing_input(topic, key, headers, value)
    for raw_key in keys:
        try:
            _public_key(raw_key).verify(signature, signed)
        except InvalidSignature:
            continue
        return signed_by, None
    return signed_by, SignatureProblem(
        HEADER_SIGNATURE,
        f"ce_signature does not verify with any signing key of {signed_by}: the record was "
        "changed after signing, or not signed by that party",
    )


@functools.lru_cache(maxsize=4096)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def _single(headers: Headers, wanted: str) -> str | None:
    """The text of the one header named ``wanted`` (None if absent, repeated or not UTF-8)."""
    found = [raw for name, raw in headers if _text_header(name, raw)[0] == wanted]
    if len(found) != 1 or found[0] is None:
        return None
    try:
        return found[0].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _text_header(name: str | bytes, raw: bytes | None) -> tuple[str, bytes | None]:
    if isinstance(name, bytes):
        return name.decode("utf-8", "surrogateescape"), raw
    return name, raw


def _is_signed(name: str) -> bool:
    return (
        name.startswith(_SIGNED_HEADER_PREFIX) and name != HEADER_SIGNATURE
    ) or name == _CONTENT_TYPE


def _optional(raw: bytes | None) -> bytes:
    """A missing key or value signs differently from an empty one."""
    return b"\x00" if raw is None else b"\x01" + raw

"""The parties' API tokens: which party a bearer token names.

The gateway keeps no token itself, only its SHA-256 digest, read from a JSON file
(``GATEWAY_API_TOKENS_FILE``) or the ``GATEWAY_API_TOKENS`` variable, shaped
``{"<party id>": ["<sha256 hex of a token>", ...], ...}`` (several per party, so a token can
be rotated). ``gateway token PARTY`` makes a new token and prints its digest line. A token
presented is hashed and its digest looked up (what is compared is a hash, so the
lookup's timing tells nothing of a token). Neither tokens nor
digests are logged.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TOKEN_BYTES = 32


class ApiTokensError(ValueError):
    """The tokens' file or variable cannot be read as party ids and digests."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True)
class ApiTokens:
    digests: Mapping[str, str]
    """Digest -> party id."""

    @classmethod
    def none(cls) -> ApiTokens:
        return cls({})

    @classmethod
    def of_tokens(cls, tokens: Mapping[str, str]) -> ApiTokens:
        """From party id -> token (tests, the demo)."""
        return cls({digest(token): party for party, token in tokens.items()})

    @classmethod
    def parse(cls, text: str, *, where: str) -> ApiTokens:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise ApiTokensError(f"{where} is not JSON: {error.msg} at {error.pos}") from None
        if not isinstance(raw, dict):
            raise ApiTokensError(f"{where} must be an object of party id -> list of digests")
        found: dict[str, str] = {}
        for party, digests in raw.items():
            if not isinstance(digests, list) or not digests:
                raise ApiTokensError(f"{where}: {party!r} must have a list of digests")
            for number, value in enumerate(digests):
                if not (isinstance(value, str) and len(value) == 64 and _is_hex(value)):
                    raise ApiTokensError(
                        f"{where}: {party!r}[{number}] is not a SHA-256 hex digest"
                    )
                if value.lower() in found:
                    raise ApiTokensError(f"{where}: one digest is given to two parties")
                found[value.lower()] = party
        return cls(found)

    @classmethod
    def load(cls, *, file: Path | None, text: str | None) -> ApiTokens:
        """The file's and the variable's digests together; none when neither is set."""
        merged: dict[str, str] = {}
        if file is not None:
            try:
                content = file.read_text(encoding="utf-8")
            except OSError as error:
                raise ApiTokensError(
                    f"the API tokens file {file} cannot be read: {error}"
                ) from None
            merged.update(cls.parse(content, where=str(file)).digests)
        if text:
            merged.update(cls.parse(text, where="GATEWAY_API_TOKENS").digests)
        return cls(merged)

    def party_of(self, token: str) -> str | None:
        """The party the token names, or None."""
        return self.digests.get(digest(token))


def _is_hex(value: str) -> bool:
    try:
        int(value, 16)
    except ValueError:
        return False
    return True

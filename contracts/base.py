"""What every wire contract shares: immutability, strictness, units, and a schema version.

A contract is the shape of one message family on the wire. It knows nothing of Kafka and
nothing of the rulebook: presence of a field the *business* requires (for example a
mandatory CBAM form field) is left to the rulebook so that the sender receives a decision
naming the rule, while the contract refuses what cannot be read at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
)

from contracts.json_numbers import dump_exact, json_number

JsonObject = dict[str, Any]
Upcaster = Callable[[JsonObject], JsonObject]


# Exact decimal quantities (a limit of 1.80 % must compare exactly), written as JSON numbers
# that read back as the same value (``contracts.json_numbers``: the limits a number is held to).
# Their JSON Schema is a number with these bounds (``contracts.schema_export``).
Decimal_ = Annotated[
    Decimal,
    Field(allow_inf_nan=False),
    PlainSerializer(json_number, return_type=Any, when_used="json"),
]
Kilograms = Annotated[Decimal_, Field(ge=0)]
Millimetres = Annotated[Decimal_, Field(ge=0)]
Tonnes = Annotated[Decimal_, Field(ge=0)]
PercentByMass = Annotated[Decimal_, Field(ge=0, le=100)]
TonnesCO2ePerTonne = Decimal_  # sign is a rulebook matter (a negative figure is rejected there)


class Contract(BaseModel):
    """Base of every message body.

    Subclasses set ``MESSAGE_TYPE`` (the CloudEvents ``ce_type``), ``SCHEMA_VERSION`` and,
    once a second version exists, ``UPCASTERS``: ``{n: f}`` where ``f`` turns a version-``n``
    body (a plain dict) into a version ``n + 1`` body.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        str_strip_whitespace=False,
        validate_default=True,
        use_enum_values=False,
    )

    MESSAGE_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1
    UPCASTERS: ClassVar[Mapping[int, Upcaster]] = {}

    schema_version: int = Field(
        description="Version of this message family's schema the body was written against.",
    )

    @field_validator("schema_version")
    @classmethod
    def _is_current_version(cls, version: int) -> int:
        if version != cls.SCHEMA_VERSION:
            raise ValueError(
                f"this model reads version {cls.SCHEMA_VERSION}; upcast older bodies first"
            )
        return version

    @classmethod
    def build(cls, **fields: Any) -> Self:
        """Build a body of the current schema version (the version is filled in)."""
        return cls(schema_version=cls.SCHEMA_VERSION, **fields)

    def model_dump_json(self, **options: Any) -> str:
        """The body's JSON, every number exact (``contracts.json_numbers.dump_exact``)."""

        def dump() -> bytes:
            return super(Contract, self).model_dump_json(**options).encode()

        return dump_exact(dump).decode()


class SchemaVersionError(ValueError):
    """A body's schema version cannot be brought to the version this gateway reads."""


def upcast(contract: type[Contract], body: JsonObject) -> JsonObject:
    """Bring a raw body written against an older schema version up to the current one.

    A body without ``schema_version`` is taken as version 1 (senders that predate
    versioning). A version newer than the gateway knows, or a gap in the upcaster chain,
    is refused with a ``SchemaVersionError`` that names ``schema_version``.
    """
    version = body.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SchemaVersionError(f"schema_version: expected a positive integer, got {version!r}")
    current = contract.SCHEMA_VERSION
    if version > current:
        raise SchemaVersionError(
            f"schema_version: {contract.MESSAGE_TYPE} version {version} is newer than "
            f"the version this gateway reads ({current})"
        )
    upgraded = dict(body)
    while version < current:
        step = contract.UPCASTERS.get(version)
        if step is None:
            raise SchemaVersionError(
                f"schema_version: no upcaster from {contract.MESSAGE_TYPE} version {version}"
            )
        upgraded = step(upgraded)
        version += 1
    upgraded["schema_version"] = current
    return upgraded

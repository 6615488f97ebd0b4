"""The table of contracts: (type, version) -> schema, with a one-line description."""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema


@dataclass(frozen=True)
class Contract:
    type: str
    version: int
    schema: type[Schema]
    summary: str
    source: str

    @property
    def routing_key(self) -> str:
        return self.type


CONTRACTS: dict[tuple[str, int], Contract] = {}


def contract(type_: str, version: int, source: str, summary: str):
    def register(schema: type[Schema]) -> type[Schema]:
        CONTRACTS[(type_, version)] = Contract(type_, version, schema, summary, source)
        return schema

    return register


def contract_for(type_: str, version: int) -> Contract:
    return CONTRACTS[(type_, version)]

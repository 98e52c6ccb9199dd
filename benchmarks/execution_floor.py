"""What GraphQL execution alone costs for the dashboard page: the page's selection executed over
prepared values, with no HTTP, no authentication and no database, in one process.

Run by hand:  .venv/bin/python benchmarks/execution_floor.py [--pages 2000]
It prints the CPU milliseconds per page of:
- graphql-core 3 alone, over dicts, with its default resolvers (the floor of any GraphQL
  server in Python that answers this selection field by field);
- Strawberry over the same values as plain dataclasses (fields without resolvers);
- Strawberry where each field has a resolver method (as gql-support's types had before the
  page of plain values), to show what a resolver per field costs.
Parsing and validation are done once, outside the timing, as gql-support's caches do.
``make bench`` gives the server's CPU per page beside these (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from typing import Any

import strawberry
from bench import PAGE
from graphql import build_schema, execute, parse, validate
from strawberry.extensions import ParserCache, ValidationCache

SDL = """
type Query { incidents: IncidentConnection! }
type IncidentConnection { totalCount: Int! nodes: [Incident!]! }
type User { name: String! }
type CommentConnection { totalCount: Int! }
type Incident {
  number: Int! description: String! status: String! priority: String! dueDate: String
  reporter: User! assignedTo: User supportedBy: [User!]! comments: CommentConnection!
}
"""


def _rows() -> dict[str, Any]:
    users = [{"name": f"Agent {n:02}"} for n in range(10)]
    nodes = [
        {
            "number": 100_000 - n,
            "description": f"The printer on floor {n} fails to print the export " * 3,
            "status": "IN_PROGRESS",
            "priority": "P2",
            "dueDate": None if n % 3 else "2026-12-24T09:00:00+00:00",
            "reporter": users[n % 10],
            "assignedTo": None if n % 4 == 0 else users[(n + 1) % 10],
            "supportedBy": [users[(n + 2) % 10], users[(n + 3) % 10]][: n % 3],
            "comments": {"totalCount": n % 9},
        }
        for n in range(50)
    ]
    return {"incidents": {"totalCount": 100_000, "nodes": nodes}}


# Strawberry over plain values: every field is an attribute (Strawberry's "basic" fields).
@strawberry.type
class PlainUser:
    name: str


@strawberry.type
class PlainComments:
    total_count: int


@strawberry.type
class PlainIncident:
    number: int
    description: str
    status: str
    priority: str
    due_date: str | None
    reporter: PlainUser
    assigned_to: PlainUser | None
    supported_by: list[PlainUser]
    comments: PlainComments


@strawberry.type
class PlainConnection:
    total_count: int
    nodes: list[PlainIncident]


def _plain(row: dict[str, Any]) -> PlainIncident:
    def user(value: dict[str, Any] | None) -> PlainUser | None:
        return None if value is None else PlainUser(name=value["name"])

    return PlainIncident(
        number=row["number"],
        description=row["description"],
        status=row["status"],
        priority=row["priority"],
        due_date=row["dueDate"],
        reporter=PlainUser(name=row["reporter"]["name"]),
        assigned_to=user(row["assignedTo"]),
        supported_by=[PlainUser(name=u["name"]) for u in row["supportedBy"]],
        comments=PlainComments(total_count=row["comments"]["totalCount"]),
    )


# Strawberry with a resolver method per field, over the same row.
@strawberry.type
class ResolvedIncident:
    row: strawberry.Private[dict[str, Any]]

    @strawberry.field
    def number(self) -> int:
        return int(self.row["number"])

    @strawberry.field
    def description(self) -> str:
        return str(self.row["description"])

    @strawberry.field
    def status(self) -> str:
        return str(self.row["status"])

    @strawberry.field
    def priority(self) -> str:
        return str(self.row["priority"])

    @strawberry.field
    def due_date(self) -> str | None:
        return self.row["dueDate"]  # type: ignore[no-any-return]

    @strawberry.field
    def reporter(self) -> PlainUser:
        return PlainUser(name=self.row["reporter"]["name"])

    @strawberry.field
    def assigned_to(self) -> PlainUser | None:
        value = self.row["assignedTo"]
        return None if value is None else PlainUser(name=value["name"])

    @strawberry.field
    def supported_by(self) -> list[PlainUser]:
        return [PlainUser(name=u["name"]) for u in self.row["supportedBy"]]

    @strawberry.field
    def comments(self) -> PlainComments:
        return PlainComments(total_count=self.row["comments"]["totalCount"])


@strawberry.type
class ResolvedConnection:
    total_count: int
    nodes: list[ResolvedIncident]


def _strawberry_schemas(data: dict[str, Any]) -> tuple[strawberry.Schema, strawberry.Schema]:
    page = data["incidents"]

    @strawberry.type
    class PlainQuery:
        @strawberry.field
        async def incidents(self) -> PlainConnection:
            return PlainConnection(
                total_count=page["totalCount"], nodes=[_plain(row) for row in page["nodes"]]
            )

    @strawberry.type
    class ResolvedQuery:
        @strawberry.field
        async def incidents(self) -> ResolvedConnection:
            return ResolvedConnection(
                total_count=page["totalCount"],
                nodes=[ResolvedIncident(row=row) for row in page["nodes"]],
            )

    def cached() -> list[Any]:
        return [lambda: ParserCache(maxsize=16), lambda: ValidationCache(maxsize=16)]

    return (
        strawberry.Schema(query=PlainQuery, extensions=cached()),
        strawberry.Schema(query=ResolvedQuery, extensions=cached()),
    )


# The page's document without its arguments (the prepared values are the page already).
DOCUMENT = "{ incidents" + PAGE.split(")", 1)[1]


async def _cpu_ms_per_page(run: Any, pages: int) -> float:
    for _ in range(50):  # warm-up
        await run()
    started = time.process_time()
    for _ in range(pages):
        await run()
    return 1000 * (time.process_time() - started) / pages


async def main(pages: int) -> None:
    data = _rows()
    core_schema = build_schema(SDL)
    document = parse(DOCUMENT)
    assert not validate(core_schema, document)

    async def core() -> None:
        # The root resolver is async, as a server's is: execution is graphql-core's async path.
        async def incidents(*_: Any) -> Any:
            return data["incidents"]

        result = execute(core_schema, document, root_value={"incidents": incidents})
        result = await result if not hasattr(result, "data") else result  # type: ignore[misc]
        assert not result.errors, result.errors

    plain, resolved = _strawberry_schemas(data)
    expected = (await plain.execute(DOCUMENT)).data

    def straw(schema: strawberry.Schema) -> Any:
        async def run() -> None:
            result = await schema.execute(DOCUMENT)
            assert not result.errors, result.errors
            assert result.data == expected

        return run

    print(f"dashboard page's selection over prepared values, {pages} pages, CPU ms per page:")
    for name, run in (
        ("graphql-core alone, dicts", core),
        ("Strawberry, plain attributes", straw(plain)),
        ("Strawberry, a resolver per field", straw(resolved)),
    ):
        print(f"  {name:<36} {await _cpu_ms_per_page(run, pages):6.2f}")


@dataclass
class _Args:
    pages: int


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pages", type=int, default=2000)
    asyncio.run(main(parser.parse_args(namespace=_Args(pages=2000)).pages))

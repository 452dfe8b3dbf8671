"""Statements of the edit path, compiled once per dialect and run on the driver's cursor.

Every batch of keystrokes makes about eight statements (authorise, lock the head, read the
clients and the history, write the revision, move the client and the head). Run through
``Connection.execute`` each of them paid SQLAlchemy's whole execution machinery: a cache key
built by walking the statement, an execution context, a result object, the parameters
processed for every call. That costs several times what SQLite needs to run the
statement, and on the edit path it would be a large share of the server's work per edit.

A `Prepared` statement keeps what matters of SQLAlchemy and drops the rest:

- the statement is a Core statement over the models' tables, compiled by SQLAlchemy for
  the connection's dialect (once per dialect and, for ``IN`` lists, per list length);
- values pass through the column types' own bind and result processors, so custom types
  (`HexDigest`, `EpochMicros`, `CompressedText`) store and read exactly as elsewhere;
- it runs inside the session's transaction, on the connection SQLAlchemy checked out;
- the engine's ``before_cursor_execute`` and ``after_cursor_execute`` listeners still see
  every statement (the tests that count statements rely on it);
- a driver error is raised as SQLAlchemy's `DBAPIError`, and a lost connection is
  invalidated, as ``Connection.execute`` would do.

The drivers' parameter styles ``?`` (sqlite3), ``:name`` and ``%(name)s`` (psycopg) are
supported; ``IN`` lists are written out as one parameter per item, as SQLAlchemy does.

What it does not do: statement options, listeners that rewrite statements
(``retval=True``) and SQL logging of the engine (``echo``). Use it only where a statement
runs for every edit, join or connection.

Compiling reads SQLAlchemy's compiled statement (its binds, their order, the text of
``IN`` lists before expansion), which is not a public interface. An engine or connection
with the execution option `THROUGH_SQLALCHEMY` runs every `Prepared` statement through
``Connection.execute`` instead: slower, but relying on nothing of SQLAlchemy's inside, the
way back should a new SQLAlchemy not fit.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    """One statement compiled for one dialect: its SQL and how values are converted."""

    sql: str
    #: name → bind processor, for every bind parameter (None: the value is passed as is).
    binds: dict[str, Processor | None]
    #: names of the parameters that take a list (``IN``), expanded per call.
    expanding: frozenset[str]
    #: values written into the statement itself (``column == 5``): name → value.
    fixed: dict[str, Any]
    #: for drivers with positional parameters (``?``): the names in the order they appear.
    order: tuple[str, ...] | None
    #: how one parameter is written in the SQL, ``{}`` standing for its name.
    placeholder: str
    #: the result rows' type and the columns' result processors, if rows are returned.
    row: type | None
    results: tuple[Processor | None, ...]


def _row_type(names: Sequence[str]) -> type:
    """A named tuple for the rows, so callers read ``row.number`` as with SQLAlchemy."""
    row: type = namedtuple("Row", names, rename=True)  # type: ignore[misc]
    return row


#: Most SQL texts kept per statement for ``IN`` lists of different lengths. Group commit
#: makes lists as long as a batch, and the check of a batch's authors has two of them:
#: without a bound, a large crowd would leave thousands of texts behind.
MAX_EXPANDED = 128


#: Execution option (``engine.update_execution_options(**{THROUGH_SQLALCHEMY: True})``)
#: under which `Prepared` statements run through ``Connection.execute``.
THROUGH_SQLALCHEMY = "declaration_prepared_through_sqlalchemy"


def _item(name: str, index: int) -> str:
    """The name of one item of the list parameter ``name`` once it is written out."""
    return f"{name}__{index}"


_PLACEHOLDERS = {"qmark": "?", "named": ":{}", "pyformat": "%({})s"}


def _compile(statement: Executable, dialect: Dialect, column_keys: Sequence[str]) -> _Compiled:
    placeholder = _PLACEHOLDERS.get(dialect.paramstyle)
    if placeholder is None:
        raise NotImplementedError(f"parameter style {dialect.paramstyle!r} of {dialect.name}")
    compiled = statement.compile(  # type: ignore[attr-defined]
        dialect=dialect, column_keys=list(column_keys) or None
    )
    # The dialect's own variant of each type (SQLite stores datetimes as text, say), as
    # SQLAlchemy's execution uses it; the generic type's processors would skip that step.
    binds = {
        name: bind.type.dialect_impl(dialect).bind_processor(dialect)
        for name, bind in compiled.binds.items()
    }
    expanding = frozenset(name for name, bind in compiled.binds.items() if bind.expanding)
    fixed = {
        name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
    }
    order = tuple(compiled.positiontup) if compiled.positional else None
    row: type | None = None
    results: tuple[Processor | None, ...] = ()
    exported = getattr(statement, "exported_columns", None)
    if exported is not None and len(exported):
        row = _row_type([column.key for column in exported])
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in exported
        )
    return _Compiled(compiled.string, binds, expanding, fixed, order, placeholder, row, results)


class Prepared:
    """A Core statement run on the driver's cursor (see the module's docstring).

    ``column_keys`` names the columns an ``INSERT`` without ``.values()`` receives; every
    call must then give exactly those.
    """

    def __init__(self, statement: Executable, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.column_keys = tuple(column_keys or ())
        # Filled on first use. Two callers compiling at once is harmless: both get the
        # same result, and the last one stays.
        #: (dialect, driver) → the statement compiled for it.
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        #: (dialect, driver, list lengths) → SQL with the lists' placeholders written out.
        self._expanded: dict[tuple[str, str, tuple[int, ...]], str] = {}

    def compiled_for(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = _compile(self.statement, dialect, self.column_keys)
        return found

    def rows(self, connection: Connection, parameters: Mapping[str, Any]) -> list[Any]:
        """Run the statement once; return its rows (named tuples), results processed."""
        return self._run(connection, [parameters], many=False)

    def first(self, connection: Connection, parameters: Mapping[str, Any]) -> Any | None:
        found = self.rows(connection, parameters)
        return found[0] if found else None

    def execute(self, connection: Connection, parameters: Mapping[str, Any]) -> None:
        self._run(connection, [parameters], many=False)

    def execute_many(self, connection: Connection, parameters: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement for each mapping (the driver's ``executemany``)."""
        if parameters:
            self._run(connection, parameters, many=True)

    # -- running --------------------------------------------------------------------------

    def _sql(self, compiled: _Compiled, dialect: Dialect, first: Mapping[str, Any]) -> str:
        """The SQL for the lengths of this call's lists (the same for every row of a call)."""
        if not compiled.expanding:
            return compiled.sql
        names = sorted(compiled.expanding)
        lengths = tuple(len(first[name]) for name in names)
        if 0 in lengths:
            raise ValueError("a list parameter is empty; the caller must not run the query")
        key = (dialect.name, dialect.driver, lengths)
        sql = self._expanded.get(key)
        if sql is None:
            sql = compiled.sql
            for name, length in zip(names, lengths, strict=True):
                listed = ", ".join(
                    compiled.placeholder.format(_item(name, i)) for i in range(length)
                )
                sql = sql.replace(f"(__[POSTCOMPILE_{name}])", f"({listed})")
            if len(self._expanded) >= MAX_EXPANDED:
                self._expanded.clear()  # rare lengths go, the common ones come back at once
            self._expanded[key] = sql
        return sql

    @staticmethod
    def _values(compiled: _Compiled, parameters: Mapping[str, Any]) -> Any:
        """The driver's parameters: processed, lists spread out, in order if positional."""
        if compiled.fixed:
            parameters = {**compiled.fixed, **parameters}
        if compiled.order is not None:
            ordered: list[Any] = []
            for name in compiled.order:
                processor = compiled.binds[name]
                value = parameters[name]
                items = value if name in compiled.expanding else (value,)
                ordered.extend(item if processor is None else processor(item) for item in items)
            return tuple(ordered)
        named: dict[str, Any] = {}
        for name, processor in compiled.binds.items():
            value = parameters[name]
            if name in compiled.expanding:
                for i, item in enumerate(value):
                    named[_item(name, i)] = item if processor is None else processor(item)
            else:
                named[name] = value if processor is None else processor(value)
        return named

    def _run(
        self, connection: Connection, parameters: Sequence[Mapping[str, Any]], *, many: bool
    ) -> list[Any]:
        if connection.get_execution_options().get(THROUGH_SQLALCHEMY):
            return self._run_through_sqlalchemy(connection, parameters, many=many)
        dialect = connection.dialect
        compiled = self.compiled_for(dialect)
        sql = self._sql(compiled, dialect, parameters[0])
        values: Any = [self._values(compiled, each) for each in parameters]
        if not many:
            values = values[0]
        if not connection.in_transaction():
            connection.begin()  # as Connection.execute would: never in autocommit
        fetched = _on_cursor(connection, sql, values, many=many, fetch=compiled.row is not None)
        if compiled.row is None:
            return []
        make = compiled.row._make  # type: ignore[attr-defined]
        processors = compiled.results
        if not any(processors):
            return [make(row) for row in fetched]
        return [
            make(
                value if processor is None else processor(value)
                for processor, value in zip(processors, row, strict=True)
            )
            for row in fetched
        ]

    def _run_through_sqlalchemy(
        self, connection: Connection, parameters: Sequence[Mapping[str, Any]], *, many: bool
    ) -> list[Any]:
        """Run the statement with ``Connection.execute``; rows as SQLAlchemy returns them.

        Its rows answer ``row.number`` and compare as tuples, as the named tuples do.
        """
        if any(
            isinstance(value, list | tuple | set | frozenset) and not value
            for value in parameters[0].values()
        ):
            raise ValueError("a list parameter is empty; the caller must not run the query")
        if many:
            connection.execute(self.statement, [dict(each) for each in parameters])
            return []
        result = connection.execute(self.statement, dict(parameters[0]))
        return list(result) if result.returns_rows else []


def run_on_cursor(connection: Connection, sql: str) -> None:
    """Run ``sql`` (no parameters, no rows) on the connection's driver cursor, as it stands.

    For transaction control inside the engine's own events (SQLite's ``BEGIN IMMEDIATE``
    in the ``begin`` event), where ``Connection.exec_driver_sql`` would pay the whole
    execution machinery for a statement without parameters or result, and where the
    connection is not in a transaction yet. Listeners, errors and invalidation as for a
    `Prepared` statement.
    """
    _on_cursor(connection, sql, None, many=False, fetch=False)


def _on_cursor(
    connection: Connection, sql: str, values: Any, *, many: bool, fetch: bool
) -> Sequence[Any]:
    """Execute on a new cursor of the connection's driver connection; rows if ``fetch``.

    ``values`` None: the statement takes no parameters at all (listeners see ``()``).
    """
    dialect = connection.dialect
    raw = connection.connection.dbapi_connection
    assert raw is not None
    dispatch = connection.dispatch
    seen = () if values is None else values
    cursor = None
    try:
        cursor = raw.cursor()
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, cursor, sql, seen, None, many)
        if many:
            cursor.executemany(sql, values)
        elif values is None:
            cursor.execute(sql)  # not even an empty set: psycopg sends the text as it is
        else:
            cursor.execute(sql, values)
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(connection, cursor, sql, seen, None, many)
        return cursor.fetchall() if fetch else []
    except dialect.loaded_dbapi.Error as error:
        invalidated = dialect.is_disconnect(error, raw, cursor)
        if invalidated:
            connection.invalidate(error)
        raise exc.DBAPIError.instance(
            sql,
            seen,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=invalidated,
            dialect=dialect,
        ) from error
    finally:
        if cursor is not None and not connection.invalidated:
            cursor.close()

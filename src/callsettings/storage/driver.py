"""The write path's statements, run on the database driver's own connection.

A statement run through SQLAlchemy's async engine crosses into a greenlet and back, builds
an execution context, a cursor wrapper and a result: measured here at about 150 us of Python
per statement, where the driver's own call costs 10-30 us. A settings change runs five to
seven statements inside the database's write lock, so that overhead was most of a PUT.

The statements are still SQLAlchemy Core, written once against the tables and compiled once
per dialect (SQLite's `?` or asyncpg's `$1` placeholders, with the bind and result types'
own conversions). They run on the connection SQLAlchemy holds, inside its transaction, so
commit, rollback and the pool stay SQLAlchemy's (on PostgreSQL, SQLAlchemy's adapter is
asked to begin its transaction, as its own first statement would). Outside a transaction,
or on another driver, they run through SQLAlchemy as before.

Driver errors are raised as SQLAlchemy's, so the error handling above does not change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Executable

from callsettings.storage.sqlite_inline import InlineConnection

Convert = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    binds: tuple[Convert, ...]
    results: tuple[Convert, ...]


class Statement:
    """A Core statement with its compiled form per dialect, for `first` and `run`."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _compile(self.statement, dialect)
        return found


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    names = tuple(compiled.positiontup or ())
    binds = tuple(
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    columns = getattr(statement, "exported_columns", ())  # SELECT or RETURNING columns
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
    return _Compiled(compiled.string, names, binds, results)


def _params(compiled: _Compiled, values: Mapping[str, Any]) -> list[Any]:
    return [
        values[name] if bind is None else bind(values[name])
        for name, bind in zip(compiled.names, compiled.binds, strict=True)
    ]


def _row(compiled: _Compiled, row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(
        value if convert is None or value is None else convert(value)
        for value, convert in zip(row, compiled.results, strict=True)
    )


def _proxied(conn: AsyncConnection) -> Any:
    """The pool's proxy of the DBAPI connection (a transaction is open, so it is there)."""
    assert conn.sync_connection is not None
    return conn.sync_connection.connection


async def _driver(conn: AsyncConnection) -> Any:
    """The driver connection to run on, or None to go through SQLAlchemy."""
    if not conn.in_transaction():
        return None
    proxied = _proxied(conn)
    driver: Any = proxied.driver_connection
    if isinstance(driver, InlineConnection):
        return driver._connection  # the sqlite3 connection, used on this thread
    # asyncpg: SQLAlchemy's adapter begins its transaction at the first statement, and only
    # commits one it began. Have it begin now, as that statement would have.
    adapted = proxied.dbapi_connection
    start = getattr(adapted, "_start_transaction", None)
    if start is None or getattr(adapted, "isolation_level", None) == "autocommit":
        return None
    if adapted._transaction is None:
        await start()
    return driver if driver.is_in_transaction() else None


async def first(
    conn: AsyncConnection, statement: Statement, values: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """Return the first row of a SELECT (or of an INSERT ... RETURNING), or None."""
    driver = await _driver(conn)
    if driver is None:
        row = (await conn.execute(statement.statement, dict(values))).first()
        return None if row is None else tuple(row)
    compiled = statement.compiled(conn.dialect)
    params = _params(compiled, values)
    if isinstance(driver, sqlite3.Connection):
        with _AsSQLAlchemyError(compiled, params, sqlite3.Error):
            # All rows, so that an INSERT ... RETURNING is run to its end.
            rows = driver.execute(compiled.sql, params).fetchall()
        found = rows[0] if rows else None
    else:
        found = await _on_asyncpg(conn, compiled, params, "fetchrow")
    return None if found is None else _row(compiled, found)


async def all_alone(
    conn: AsyncConnection, statement: Statement, values: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Run one statement as its own transaction on PostgreSQL (asyncpg), outside any that
    SQLAlchemy holds: the server commits it as it answers, in one round trip where BEGIN,
    the statement and COMMIT take three. Return its rows."""
    if conn.in_transaction():
        raise RuntimeError("a statement alone needs a connection outside a transaction")
    raw = await conn.get_raw_connection()
    compiled = statement.compiled(conn.dialect)
    params = _params(compiled, values)
    rows = await _on_asyncpg(conn, compiled, params, "fetch", raw.dbapi_connection)
    return [_row(compiled, row) for row in rows]


async def first_alone(
    conn: AsyncConnection, statement: Statement, values: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """As all_alone; return the first row, or None."""
    rows = await all_alone(conn, statement, values)
    return rows[0] if rows else None


async def run(conn: AsyncConnection, statement: Statement, values: Mapping[str, Any]) -> int:
    """Run an INSERT, UPDATE or DELETE; return how many rows it touched."""
    driver = await _driver(conn)
    if driver is None:
        result = await conn.execute(statement.statement, dict(values))
        return int(result.rowcount)
    compiled = statement.compiled(conn.dialect)
    params = _params(compiled, values)
    if isinstance(driver, sqlite3.Connection):
        with _AsSQLAlchemyError(compiled, params, sqlite3.Error):
            return driver.execute(compiled.sql, params).rowcount
    status: str = await _on_asyncpg(conn, compiled, params, "execute")
    # asyncpg answers "UPDATE 1", "INSERT 0 1", "DELETE 3": the count is the last word.
    return int(status.rsplit(" ", 1)[-1])


async def plain(conn: AsyncConnection, sql: str) -> None:
    """Run a parameterless statement (SAVEPOINT and its like)."""
    driver = await _driver(conn)
    if isinstance(driver, sqlite3.Connection):
        with _AsSQLAlchemyError(_Compiled(sql, (), (), ()), [], sqlite3.Error):
            driver.execute(sql)
        return
    await conn.exec_driver_sql(sql)


async def _on_asyncpg(
    conn: AsyncConnection,
    compiled: _Compiled,
    params: list[Any],
    method: str,
    adapted: Any = None,
) -> Any:
    if adapted is None:
        adapted = _proxied(conn).dbapi_connection
    try:
        return await getattr(adapted.driver_connection, method)(compiled.sql, *params)
    except Exception as error:
        # SQLAlchemy's adapter turns asyncpg's errors into DBAPI ones (and marks the
        # transaction failed); then wrap them as SQLAlchemy's, as its own execute does.
        try:
            adapted._handle_exception(error)
        except Exception as translated:
            raise _wrapped(compiled, params, translated, conn.dialect) from error
        raise


class _AsSQLAlchemyError:
    """Raise a driver error as the SQLAlchemy exception SQLAlchemy itself would raise."""

    __slots__ = ("base", "compiled", "params")

    def __init__(self, compiled: _Compiled, params: list[Any], base: type[Exception]) -> None:
        self.compiled, self.params, self.base = compiled, params, base

    def __enter__(self) -> None:
        return None

    def __exit__(self, _kind: Any, error: BaseException | None, _traceback: Any) -> None:
        if isinstance(error, self.base):
            raise exc.DBAPIError.instance(
                self.compiled.sql, self.params, error, self.base
            ) from error


def _wrapped(
    compiled: _Compiled, params: list[Any], error: Exception, dialect: Dialect
) -> exc.StatementError:
    return exc.DBAPIError.instance(compiled.sql, params, error, dialect.loaded_dbapi.Error)

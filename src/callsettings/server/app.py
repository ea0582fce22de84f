"""The application factory: every app is built from a ServerConfig passed in."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from callsettings import __version__
from callsettings.server import features, ucm, webex, xsi
from callsettings.server.auth import TokenCache
from callsettings.server.background import Checkpointing
from callsettings.server.cache import SettingsCache
from callsettings.server.config import ServerConfig
from callsettings.server.edge import EdgeMiddleware, InFlight
from callsettings.server.errors import handle_exception
from callsettings.server.fastpath import FastReads
from callsettings.server.invalidation import ChangeFeed, invalidator_for
from callsettings.server.ratelimit import (
    MemoryRateLimitStore,
    RateLimitStore,
    RedisRateLimitStore,
)
from callsettings.server.services import Services
from callsettings.server.warmup import (
    answer_keeper,
    org_renewer,
    people_renewer,
    refresher,
    warm,
    warm_answers,
)
from callsettings.storage.database import create_engine, wal_checkpoints

log = logging.getLogger(__name__)

ROUTES: list[Any] = [*webex.ROUTES, *xsi.ROUTES, *ucm.ROUTES]


def _rate_limit_store(config: ServerConfig) -> RateLimitStore:
    if config.redis_url:
        return RedisRateLimitStore(config.redis_url)
    return MemoryRateLimitStore()


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="callsettings",
        version=__version__,
        description=(
            "Person call settings in the Webex REST dialect (call forwarding, Do Not Disturb, "
            "voicemail, call waiting), with the Webex auth model and error body."
        ),
        path="/docs",
        render_plugins=[SwaggerRenderPlugin(path="/")],
    )


@get("/openapi.json", include_in_schema=False, sync_to_thread=False)
def openapi_json(request: Request[Any, Any, Any]) -> Response[Any]:
    schema = request.app.openapi_schema.to_schema()
    return Response(content=schema, media_type="application/json")


@get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _warm_start(engine: Any, cache: SettingsCache, max_people: int) -> None:
    try:
        await warm(engine, cache, max_people)
    except Exception:
        # A database that is away must not stop the service from starting: it answers 503s
        # until the database is back, and the cache fills one read at a time.
        log.warning("warm start failed; the cache fills as people are read", exc_info=True)


def _settle_garbage_collector() -> None:
    # The app's own objects live as long as the process; scanning them on every full
    # collection showed up as 100 ms pauses at the 99th percentile. Freeze them, and collect
    # the young generation less often (requests allocate little that is cyclic).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def create_litestar(config: ServerConfig) -> Litestar:
    """Return the Litestar app alone (without the edge layer), for introspection."""
    store = _rate_limit_store(config)
    in_flight = InFlight()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(
            config.database_url,
            sqlite_synchronous=config.sqlite_synchronous,
            pool_size=config.db_pool_size,
            checkpoint_in_background=True,
        )
        checkpoints = wal_checkpoints(engine, config.sqlite_synchronous)
        checkpointing = None if checkpoints is None else Checkpointing(checkpoints)
        cache = SettingsCache(
            config.cache_seconds,
            max_people=config.cache_max_people,
            people_ttl=config.people_cache_seconds,
        )
        invalidator = invalidator_for(cache, config.redis_url)
        await invalidator.start()
        feed = ChangeFeed(
            engine, cache, config.change_poll_seconds, served=features.served_as_written
        )
        await feed.start()  # first: a change made while the cache warms is evicted
        renewer = org_renewer(engine, cache)
        renewer.start()
        people_renewal = people_renewer(engine, cache, config.people_cache_seconds)
        people_renewal.start()
        read_back = refresher(engine, cache)
        keeper = answer_keeper(cache, engine, in_flight.idle)
        answering: asyncio.Task[int] | None = None
        if config.warm_start:
            await _warm_start(engine, cache, config.cache_max_people)
            read_back.start()  # and keep it warm while people change their settings
            answering = asyncio.create_task(warm_answers(cache, engine))  # while serving
            keeper.start()
        app.state.services = Services(
            config=config,
            engine=engine,
            tokens=TokenCache(engine, config.token_cache_seconds),
            rate_limits=store,
            cache=cache,
            invalidator=invalidator,
        )
        _settle_garbage_collector()
        try:
            yield
        finally:
            if answering is not None:
                answering.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await answering
            await keeper.stop()
            await read_back.stop()
            await people_renewal.stop()
            await renewer.stop()
            await feed.stop()
            await invalidator.stop()
            if checkpointing is not None:
                await checkpointing.stop()
            await engine.dispose()
            await store.close()

    app = Litestar(
        route_handlers=[*ROUTES, openapi_json, healthz],
        lifespan=[lifespan],
        exception_handlers={Exception: handle_exception},
        openapi_config=_openapi(),
        request_max_body_size=config.max_upload_bytes + 64 * 1024,
        debug=False,
    )
    app.state.rate_limit_store = store
    app.state.in_flight = in_flight
    app.state.retry_after_unavailable = config.retry_after_unavailable
    return app


def create_app(config: ServerConfig) -> Any:
    """Return the ASGI app: the Litestar routes behind the tracking and rate-limit edge."""
    litestar = create_litestar(config)
    return EdgeMiddleware(
        FastReads(litestar),
        litestar.state.rate_limit_store,
        config.rate_limit_requests,
        config.rate_limit_window_seconds,
        litestar.state.in_flight,
    )


def app_from_env() -> Any:
    """Entry point for uvicorn workers (`--factory`): configuration from CALLSETTINGS_*."""
    return create_app(ServerConfig())

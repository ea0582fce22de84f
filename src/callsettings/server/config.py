"""Server configuration, read once by the entry point and passed down."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/callsettings.db"


class ServerConfig(BaseSettings):
    """Everything the service can be told; env vars use the CALLSETTINGS_ prefix."""

    model_config = SettingsConfigDict(env_prefix="CALLSETTINGS_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default=1, ge=1)
    # FULL: an acknowledged write survives a process kill and a power loss (see docs).
    sqlite_synchronous: str = "FULL"
    db_pool_size: int = Field(default=10, ge=1)
    # Per token (per client address without one): requests allowed in each window.
    rate_limit_requests: int = Field(default=6000, ge=1)
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    # redis://... shares rate-limit counters and cache invalidation across replicas.
    redis_url: str | None = None
    max_json_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=5000 * 1024, ge=1024)
    # How long a token check may be reused; bounds how late a revocation takes effect.
    token_cache_seconds: float = Field(default=2.0, ge=0, le=10)
    # How long a replica may reuse what it read without being told of a change: the
    # organization, outside numbers, compiled forms. Its own writes evict at once; other
    # replicas' writes evict through the change feed (and Redis when set).
    cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    # The same for people and their documents. Every change to them writes an audit event,
    # which the change feed turns into an eviction, so this is only a safety net.
    people_cache_seconds: float = Field(default=3600.0, ge=0, le=86400)
    # How often each replica reads the change feed (new audit events) to evict people other
    # replicas changed; 0 turns it off (one process alone, or Redis trusted alone).
    change_poll_seconds: float = Field(default=0.25, ge=0, le=60)
    # The most people one replica keeps in memory, each packed into about 700 bytes with
    # every feature (see cache.py), and whether a worker loads them before serving.
    cache_max_people: int = Field(default=125_000, ge=100)
    warm_start: bool = True
    # Absolute URLs in Link headers and xsiActionsEndpoint; derived from the request if unset.
    public_base_url: str | None = None
    # Seconds a 503 asks clients to wait when the database is unreachable.
    retry_after_unavailable: int = 5

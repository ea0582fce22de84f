"""429 and 503 are retried, honouring Retry-After, with a finite number of attempts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from callsettings.sdk import RetryPolicy
from callsettings.sdk.retry import parse_retry_after
from tests.sdk.mocks import Handler, Sleeps, async_client, sync_client

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
DND = {"enabled": True, "ringSplashEnabled": False, "webexGoOverrideEnabled": False}


def answers(*responses: httpx.Response) -> tuple[list[httpx.Request], Handler]:
    """A handler giving `responses` in turn (the last one forever), and what it received."""
    sent: list[httpx.Request] = []
    queue: Iterator[httpx.Response] = iter(responses)
    last = responses[-1]

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return next(queue, last)

    return sent, handler


def busy(status: int = 429, retry_after: str | None = None) -> httpx.Response:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return httpx.Response(status, json={"message": "slow down", "trackingId": "T"}, headers=headers)


def policy(**overrides: Any) -> RetryPolicy:
    return RetryPolicy(clock=lambda: NOW, **overrides)


def test_retry_after_in_seconds_is_waited_for_then_the_call_succeeds() -> None:
    sent, handler = answers(busy(429, "2"), httpx.Response(200, json=DND))
    sleeps = Sleeps()
    with sync_client(handler, sleeps, policy()) as client:
        response = client.get_do_not_disturb_setting()
    assert response.to_dict() == {
        "statusCode": 200,
        "data": {"callSetting": DND},
        "message": "SUCCESS",
    }
    assert sleeps.waits == [2.0]
    assert len(sent) == 2
    assert sent[0].headers["TrackingID"] == sent[1].headers["TrackingID"]


def test_retry_after_as_an_http_date_waits_until_that_time() -> None:
    when = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    _, handler = answers(busy(503, when), httpx.Response(200, json=DND))
    sleeps = Sleeps()
    with sync_client(handler, sleeps, policy()) as client:
        response = client.get_do_not_disturb_setting()
    assert response.status_code == 200
    assert sleeps.waits == [30.0]


def test_the_attempt_cap_returns_the_last_429_as_a_failure() -> None:
    sent, handler = answers(busy(429, "1"))
    sleeps = Sleeps()
    with sync_client(handler, sleeps, policy(attempts=3)) as client:
        response = client.set_do_not_disturb_setting(True)
    assert response.to_dict() == {
        "statusCode": 429,
        "data": {"error": "429 Exception has occurred"},
        "message": "FAILURE",
    }
    assert len(sent) == 3
    assert sleeps.waits == [1.0, 1.0]


def test_a_retry_after_beyond_the_maximum_delay_is_not_waited_for() -> None:
    sent, handler = answers(busy(429, "120"), httpx.Response(200, json=DND))
    sleeps = Sleeps()
    with sync_client(handler, sleeps, policy(max_delay=60)) as client:
        response = client.get_do_not_disturb_setting()
    assert response.status_code == 429
    assert len(sent) == 1
    assert sleeps.waits == []


def test_without_retry_after_the_pause_doubles_up_to_the_maximum() -> None:
    sent, handler = answers(busy(503))
    sleeps = Sleeps()
    retry = policy(attempts=5, backoff=1.5, max_delay=4)
    with sync_client(handler, sleeps, retry) as client:
        response = client.get_voicemail_setting()
    assert response.data == "Unable to establish a connection with the server"
    assert sleeps.waits == [1.5, 3.0, 4.0, 4.0]
    assert len(sent) == 5


@pytest.mark.parametrize("status", [500, 502, 404, 423])
def test_other_statuses_are_not_retried(status: int) -> None:
    sent, handler = answers(busy(status, "1"), httpx.Response(200, json=DND))
    with sync_client(handler, Sleeps(), policy()) as client:
        response = client.get_do_not_disturb_setting()
    assert response.status_code == status
    assert len(sent) == 1


async def test_the_async_client_retries_with_its_own_sleep() -> None:
    sent, handler = answers(busy(429, "3"), busy(429, "0"), httpx.Response(200, json=DND))
    sleeps = Sleeps()
    async with async_client(handler, sleeps, policy()) as client:
        response = await client.get_do_not_disturb_setting()
    assert response.setting.enabled is True
    assert sleeps.waits == [3.0, 0.0]
    assert len(sent) == 3


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("7", 7.0),
        (" 12 ", 12.0),
        ("Sat, 01 Mar 2025 12:01:00 GMT", 60.0),
        ("Sat, 01 Mar 2025 11:00:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("-3", None),
        ("1.5", None),
    ],
)
def test_parse_retry_after(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_an_unusable_retry_after_falls_back_to_the_backoff() -> None:
    assert policy(backoff=2.0).delay(1, 429, "soon") == 2.0


@pytest.mark.parametrize("bad", [{"attempts": 0}, {"max_delay": -1}, {"backoff": -0.5}])
def test_a_policy_must_be_finite_and_non_negative(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**bad)

"""`callsettings forwarding|dnd|voicemail|callwaiting|forward-always` against the live service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from callsettings.cli.main import cli
from tests.sdk.conftest import Live


def invoke(
    live: Live,
    *args: str,
    token: str = "full",
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    output: str = "json",
) -> Result:
    where = [
        "--base-url",
        live.base_url,
        "--person",
        live.world.pid(live.world.ann),
        "--xsi-endpoint",
        live.xsi_endpoint,
        "--output",
        output,
    ]
    token_args = [] if env else ["--token", live.world.tokens[token]]
    return CliRunner().invoke(cli, [*args, *where, *token_args], env=env, input=stdin)


def answer(result: Result) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(result.output)
    return body


def stored(live: Live, feature: str) -> dict[str, Any]:
    pid = live.world.pid(live.world.ann)
    response = httpx.get(
        f"{live.base_url}/people/{pid}/features/{feature}", headers=live.world.auth("full")
    )
    body: dict[str, Any] = response.json()
    return body


def test_forwarding_get_prints_the_js_response(live: Live) -> None:
    result = invoke(live, "forwarding", "get")
    assert result.exit_code == 0, result.output
    body = answer(result)
    assert (body["statusCode"], body["message"]) == (200, "SUCCESS")
    assert body["data"]["callSetting"]["callForwarding"]["noAnswer"]["numberOfRings"] == 3


def test_forwarding_set_with_options_changes_only_those(live: Live) -> None:
    result = invoke(
        live,
        "forwarding",
        "set",
        "--always-to",
        "1002",
        "--ring-reminder",
        "--no-answer-rings",
        "4",
    )
    assert result.exit_code == 0, result.output
    assert answer(result)["data"]["callSetting"] == {
        "callForwarding": {
            "always": {"enabled": True, "destination": "1002", "ringReminderEnabled": True},
            "noAnswer": {"numberOfRings": 4},
        }
    }
    rules = stored(live, "callForwarding")["callForwarding"]
    assert rules["always"] == {
        "enabled": True,
        "destination": "1002",
        "ringReminderEnabled": True,
        "destinationVoicemailEnabled": False,
    }
    assert rules["noAnswer"]["numberOfRings"] == 4
    assert rules["noAnswer"]["enabled"] is False


def test_forwarding_set_takes_a_json_document_from_a_file_or_stdin(
    live: Live, tmp_path: Path
) -> None:
    path = tmp_path / "busy.json"
    path.write_text(
        json.dumps({"callForwarding": {"busy": {"enabled": True, "destination": "2001"}}})
    )
    assert invoke(live, "forwarding", "set", "--json", f"@{path}").exit_code == 0
    assert stored(live, "callForwarding")["callForwarding"]["busy"]["destination"] == "2001"
    document = json.dumps({"businessContinuity": {"enabled": True, "destination": "1002"}})
    result = invoke(live, "forwarding", "set", "--json", "-", "--busy-off", stdin=document)
    assert result.exit_code == 0, result.output
    after = stored(live, "callForwarding")
    assert after["businessContinuity"]["destination"] == "1002"
    assert after["callForwarding"]["busy"]["enabled"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "nothing to change"),
        (("--busy-to", "1002", "--busy-off"), "switched on and off at once"),
        (("--json", "[1]"), "must be a JSON object"),
        (("--json", "{"), "not JSON"),
    ],
)
def test_forwarding_set_refuses_unusable_input(
    live: Live, args: tuple[str, ...], message: str
) -> None:
    result = invoke(live, "forwarding", "set", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_a_refused_change_exits_1_with_the_js_error(live: Live) -> None:
    result = invoke(live, "forwarding", "set", "--no-answer-rings", "40")
    assert result.exit_code == 1
    assert answer(result) == {
        "statusCode": 400,
        "data": {"error": "400 Bad request"},
        "message": "FAILURE",
    }


def test_table_output_shows_the_settings_and_failures(live: Live) -> None:
    result = invoke(live, "dnd", "get", output="table")
    assert result.exit_code == 0, result.output
    assert "SUCCESS 200" in result.output
    assert "ringSplashEnabled" in result.output
    failed = invoke(live, "dnd", "get", token="expired", output="table")
    assert failed.exit_code == 1
    assert "FAILURE 401: User is unauthorised, possible token expiry" in failed.output
    assert "code 40103" in failed.output


def test_dnd_on_off_and_get(live: Live) -> None:
    assert answer(invoke(live, "dnd", "on"))["data"] == {"callSetting": {"enabled": True}}
    assert stored(live, "doNotDisturb")["enabled"] is True
    assert answer(invoke(live, "dnd", "get"))["data"]["callSetting"]["enabled"] is True
    assert invoke(live, "dnd", "off").exit_code == 0
    assert stored(live, "doNotDisturb")["enabled"] is False


def test_voicemail_get_and_set(live: Live) -> None:
    assert answer(invoke(live, "voicemail", "get"))["data"]["callSetting"]["enabled"] is False
    result = invoke(
        live,
        "voicemail",
        "set",
        "--enabled",
        "--send-busy",
        "--rings",
        "5",
        "--notify",
        "ann@example.com",
    )
    assert result.exit_code == 0, result.output
    after = stored(live, "voicemail")
    assert after["enabled"] is True
    assert after["sendBusyCalls"]["enabled"] is True
    assert after["sendUnansweredCalls"]["numberOfRings"] == 5
    assert after["notifications"] == {"enabled": True, "destination": "ann@example.com"}
    assert (
        invoke(live, "voicemail", "set", "--json", '{"sendAllCalls": {"enabled": true}}').exit_code
        == 0
    )
    assert stored(live, "voicemail")["sendAllCalls"] == {"enabled": True}


def test_callwaiting_get_on_off(live: Live) -> None:
    assert answer(invoke(live, "callwaiting", "get"))["data"] == {"callSetting": {"enabled": True}}
    assert invoke(live, "callwaiting", "off").exit_code == 0
    assert stored(live, "callWaiting") == {"enabled": False}
    assert answer(invoke(live, "callwaiting", "get"))["data"] == {"callSetting": {"enabled": False}}
    assert invoke(live, "callwaiting", "on").exit_code == 0
    assert stored(live, "callWaiting") == {"enabled": True}


def test_forward_always_get_shows_voicemail_precedence(live: Live) -> None:
    invoke(live, "voicemail", "set", "--enabled", "--send-all")
    result = invoke(live, "forward-always", "get", "--dn", "1001")
    assert result.exit_code == 0, result.output
    assert answer(result)["data"]["callSetting"]["destination"] == "VOICEMAIL"


def test_the_token_can_come_from_callsettings_token(live: Live) -> None:
    result = invoke(live, "dnd", "get", env={"CALLSETTINGS_TOKEN": live.world.tokens["ann"]})
    assert result.exit_code == 0, result.output
    denied = invoke(live, "dnd", "get", env={"CALLSETTINGS_TOKEN": "wrong"})
    assert denied.exit_code == 1


def test_a_malformed_person_is_a_usage_error(live: Live) -> None:
    result = CliRunner().invoke(
        cli, ["dnd", "get", "--base-url", live.base_url, "--person", "nobody", "--token", "t"]
    )
    assert result.exit_code == 2
    assert "not a valid people id" in result.output


def test_the_backend_option_selects_broadworks_and_ucm(live: Live) -> None:
    assert invoke(live, "dnd", "on", "--backend", "bwrks").exit_code == 0
    assert stored(live, "doNotDisturb")["enabled"] is True
    result = invoke(live, "forwarding", "set", "--backend", "bwrks", "--always-to", "1002")
    assert result.exit_code == 0, result.output
    ucm = invoke(live, "forward-always", "get", "--backend", "ucm", "--dn", "1001")
    assert answer(ucm)["data"] == {"callSetting": {"enabled": True, "destination": "1002"}}
    missing = invoke(live, "forward-always", "get", "--backend", "ucm")
    assert missing.exit_code == 1
    assert answer(missing)["data"] == {"error": "Directory Number is mandatory for UCM backend"}
    unsupported = invoke(live, "dnd", "get", "--backend", "ucm")
    assert unsupported.exit_code == 1
    assert answer(unsupported)["statusCode"] == 501

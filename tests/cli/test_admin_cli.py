"""The admin command line: organizations, locations, people and tokens."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from callsettings.cli.main import cli


def run(*args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_an_operator_builds_an_org_and_issues_and_revokes_a_token(sqlite_url: str) -> None:
    db = ["--database-url", sqlite_url]
    org = json.loads(run("org", "create", "Initech", "--country", "GB", *db).output)
    loc = json.loads(run("location", "create", "--org", org["id"], "Leeds", *db).output)
    person = json.loads(
        run(
            "person",
            "create",
            "--org",
            org["uuid"],
            "--email",
            "Peter@Initech.example",
            "--first-name",
            "Peter",
            "--last-name",
            "Gibbons",
            "--extension",
            "4001",
            "--number",
            "020 7183 8750",
            "--location",
            loc["id"],
            *db,
        ).output
    )
    assert person["email"] == "peter@initech.example"
    token = json.loads(
        run(
            "token", "create", "--org", org["id"], "--role", "user", "--person", person["id"], *db
        ).output
    )
    assert token["token"].startswith("cst_")
    assert "spark:people_write" in token["scopes"]
    listing = run("token", "list", "--org", org["id"], "--json", *db).output
    assert [t["id"] for t in json.loads(listing)] == [token["id"]]
    assert token["token"] not in listing
    assert "revoked" in run("token", "revoke", token["id"], *db).output
    again = run("token", "revoke", token["id"], *db, ok=False)
    assert again.exit_code != 0
    assert "no active token" in again.output


def test_bad_input_is_refused_with_a_message(sqlite_url: str) -> None:
    db = ["--database-url", sqlite_url]
    bad_country = run("org", "create", "X", "--country", "ZZ", *db, ok=False)
    assert bad_country.exit_code != 0
    assert "not an ISO 3166 country" in bad_country.output
    org = json.loads(run("org", "create", "Y", *db).output)
    bad_ext = run(
        "person",
        "create",
        "--org",
        org["id"],
        "--email",
        "a@y.example",
        "--first-name",
        "A",
        "--last-name",
        "B",
        "--extension",
        "12x",
        *db,
        ok=False,
    )
    assert "must be 2 to 6 digits" in bad_ext.output
    no_person = run("token", "create", "--org", org["id"], "--role", "user", *db, ok=False)
    assert "needs --person" in no_person.output
    bad_org = run("location", "create", "--org", "nope", "Z", *db, ok=False)
    assert "not a valid organization id" in bad_org.output


def test_a_duplicate_extension_is_refused(sqlite_url: str) -> None:
    db = ["--database-url", sqlite_url]
    org = json.loads(run("org", "create", "Z", *db).output)
    common = ["--org", org["id"], "--first-name", "A", "--last-name", "B", "--extension", "100"]
    run("person", "create", *common, "--email", "a@z.example", *db)
    clash = run("person", "create", *common, "--email", "b@z.example", *db, ok=False)
    assert "100 is already assigned" in clash.output

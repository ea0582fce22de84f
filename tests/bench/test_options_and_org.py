"""The command line and the organization's request items (nothing is timed)."""

from __future__ import annotations

import pytest
from bench.options import parse
from bench.org import ProvisionedOrg, extension_of, forwarding_patch, number_of, voicemail_patch
from bench.scenarios import ALL_SCENARIOS, items


def test_quick_is_a_small_sqlite_run_unless_told_otherwise() -> None:
    quick = parse(["--quick"])
    assert (quick.people, quick.databases, quick.concurrency, quick.duration) == (
        (1000,),
        ("sqlite",),
        (16,),
        3.0,
    )
    assert parse(["--quick", "--database", "postgres"]).databases == ("postgres",)
    assert parse(["--quick", "--people", "5000"]).people == (5000,)
    assert quick.rounds == 1


@pytest.mark.parametrize("text", ["0", "-1", "x", "1,2", ""])
def test_rounds_must_be_one_positive_integer(text: str) -> None:
    assert parse([]).rounds == 2
    assert parse(["--rounds", "3"]).rounds == 3
    with pytest.raises(SystemExit):
        parse(["--rounds", text])


def test_defaults_cover_both_databases_and_both_sizes() -> None:
    options = parse([])
    assert options.people == (1000, 100_000)
    assert options.databases == ("sqlite", "postgres")
    assert options.scenarios == ALL_SCENARIOS


def test_scenarios_are_checked_by_name() -> None:
    assert parse(["--scenarios", "engine,treatment"]).scenarios == ("engine", "treatment")
    with pytest.raises(SystemExit):
        parse(["--scenarios", "get-everything"])
    with pytest.raises(SystemExit):
        parse(["--people", "0"])


def test_people_have_distinct_six_digit_extensions_and_numbers() -> None:
    extensions = {extension_of(i) for i in range(100_000)}
    assert len(extensions) == 100_000
    assert all(len(e) == 6 for e in extensions)
    assert len({number_of(i) for i in range(100_000)}) == 100_000


def test_a_share_of_people_have_settings_and_none_forwards_to_themselves() -> None:
    people = 1_000
    patches = [forwarding_patch(i, people) for i in range(people)]
    with_forwarding = [p for p in patches if p]
    assert len(with_forwarding) == 300
    assert sum(1 for i in range(people) if voicemail_patch(i)) == 600
    for i, patch in enumerate(patches):
        rules = (patch or {}).get("callForwarding", {})
        assert all(rule.get("destination") != extension_of(i) for rule in rules.values())


def org(people: int) -> ProvisionedOrg:
    return ProvisionedOrg(
        org_id="org",
        people=people,
        person_ids=[f"P{i}" for i in range(people)],
        extensions=[extension_of(i) for i in range(people)],
        admin_token="cst_admin",
        service_token="cst_service",
    )


def test_every_person_is_a_request_item_so_no_key_is_hot() -> None:
    reads = items("get-forwarding", org(50))
    assert len(set(reads)) == 50
    assert reads[0] == "/v1/people/P0/features/callForwarding"
    decisions = items("treatment", org(50))
    assert len({d.split("&")[0] for d in decisions}) == 50
    assert decisions[0].startswith("/v1/callsettings/treatment?called=100000&caller=")


def test_put_items_name_a_colleague_never_the_person_themselves() -> None:
    for line in items("put-forwarding", org(10)):
        path, destination = line.split("\t")
        person = int(path.split("/")[3][1:])
        assert destination != extension_of(person)

"""What each scenario requests: its wrk script kind, its token and its request items."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.org import ProvisionedOrg

GET_FORWARDING = "get-forwarding"
PUT_FORWARDING = "put-forwarding"
GET_VOICEMAIL = "get-voicemail"
LIST_PEOPLE = "list-people"
TREATMENT = "treatment"
ENGINE = "engine"  # the in-process engine micro-benchmark (bench/bench_engine.py)

HTTP_SCENARIOS = (GET_FORWARDING, PUT_FORWARDING, GET_VOICEMAIL, LIST_PEOPLE, TREATMENT)
ALL_SCENARIOS = (*HTTP_SCENARIOS, ENGINE)
PEOPLE_PAGE = 100


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    kind: str  # the wrk script: "get" or "put"
    role: str  # whose token: "admin" or "service"
    expected_status: int


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(GET_FORWARDING, "GET callForwarding", "get", "admin", 200),
        Scenario(PUT_FORWARDING, "PUT callForwarding", "put", "admin", 204),
        Scenario(GET_VOICEMAIL, "GET voicemail", "get", "admin", 200),
        Scenario(LIST_PEOPLE, f"GET /v1/people (page of {PEOPLE_PAGE})", "get", "admin", 200),
        Scenario(TREATMENT, "GET treatment (decision API)", "get", "service", 200),
    )
}


def feature_path(person_id: str, feature: str) -> str:
    return f"/v1/people/{person_id}/features/{feature}"


def treatment_path(called: str, caller: str) -> str:
    return f"/v1/callsettings/treatment?called={called}&caller={caller}&diversions=0"


def items(name: str, org: ProvisionedOrg, seed: int = 7) -> list[str]:
    """Return the request items of a scenario: one per person, so no key is hot."""
    rng = random.Random(seed)
    n = org.people
    if name == GET_FORWARDING:
        return [feature_path(p, "callForwarding") for p in org.person_ids]
    if name == GET_VOICEMAIL:
        return [feature_path(p, "voicemail") for p in org.person_ids]
    if name == PUT_FORWARDING:
        # Forward to a colleague two places on: never the person's own extension.
        return [
            f"{feature_path(p, 'callForwarding')}\t{org.extensions[(i + 2) % n]}"
            for i, p in enumerate(org.person_ids)
        ]
    if name == TREATMENT:
        return [treatment_path(ext, org.extensions[rng.randrange(n)]) for ext in org.extensions]
    if name == LIST_PEOPLE:
        return [f"/v1/people?max={PEOPLE_PAGE}"]
    raise ValueError(f"unknown scenario {name!r}; expected one of {', '.join(HTTP_SCENARIOS)}")


def token_for(scenario: Scenario, org: ProvisionedOrg) -> str:
    return org.service_token if scenario.role == "service" else org.admin_token

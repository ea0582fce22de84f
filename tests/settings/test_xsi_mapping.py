"""The pure XSI mapping: tables, element values, XML and BadgerFish, and safe parsing."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from callsettings.settings import (
    CallForwarding,
    CallWaiting,
    DoNotDisturb,
    ForwardingLoop,
    InvalidSetting,
    Voicemail,
    apply_patch,
    xsi,
)
from callsettings.settings.forwarding import DEFAULT_RINGS

NS = xsi.NAMESPACE
MODELS: dict[str, type[msgspec.Struct]] = {
    "callForwarding": CallForwarding,
    "doNotDisturb": DoNotDisturb,
    "callWaiting": CallWaiting,
    "voicemail": Voicemail,
}
SAMPLE_TEXT = {
    "forwardToPhoneNumber": "+12125550199",
    "voiceMessageNotifyEmailAddress": "ann@a.example",
    "voiceMessageCarbonCopyEmailAddress": "copy@a.example",
    "transferPhoneNumber": "+12125550198",
}


def service(name: str) -> xsi.Service:
    found = xsi.find_service(name)
    assert found is not None
    return found


def doc(*values: tuple[str, str | None], root: str = "CallWaiting") -> xsi.XsiDocument:
    return xsi.XsiDocument(root, values)


def sample(svc: xsi.Service, element: xsi.Element) -> str:
    """Return a value unlike the default one, so that applying it must change something."""
    if element.kind is xsi.Kind.BOOLEAN:
        default = dict(xsi.to_document(svc, MODELS[svc.feature]()).values)[element.name]
        return "false" if default == "true" else "true"
    return "7" if element.kind is xsi.Kind.RINGS else SAMPLE_TEXT[element.name]


ELEMENTS = [(s.name, e.name) for s in xsi.SERVICES for e in s.elements]


def test_the_seven_services_of_the_contract_are_mapped() -> None:
    assert [s.name for s in xsi.SERVICES] == [
        "CallForwardingAlways",
        "CallForwardingBusy",
        "CallForwardingNoAnswer",
        "CallForwardingNotReachable",
        "DoNotDisturb",
        "CallWaiting",
        "VoiceMessaging",
    ]


@pytest.mark.parametrize(("service_name", "element_name"), ELEMENTS)
def test_every_element_lands_on_a_real_webex_field_and_reads_back(
    service_name: str, element_name: str
) -> None:
    svc = service(service_name)
    element = svc.element(element_name)
    assert element is not None
    text = sample(svc, element)
    patch = xsi.to_patch(svc, doc((element_name, text), root=service_name))
    updated = apply_patch(MODELS[svc.feature](), patch)
    assert msgspec.to_builtins(updated) != msgspec.to_builtins(MODELS[svc.feature]())
    assert dict(xsi.to_document(svc, updated).values)[element_name] == text


def test_fields_are_named_once_per_service() -> None:
    for svc in xsi.SERVICES:
        fields = [e.field for e in svc.elements]
        names = [e.name for e in svc.elements]
        assert len(set(fields)) == len(fields)
        assert len(set(names)) == len(names)


def test_default_documents_read_as_bworks_defaults_and_leave_unset_numbers_out() -> None:
    cfa = xsi.to_document(service("CallForwardingAlways"), CallForwarding())
    assert cfa.values == (("active", "false"), ("ringSplash", "false"))
    assert xsi.to_document(service("CallWaiting"), CallWaiting()).values == (("active", "true"),)
    cfna = xsi.to_document(service("CallForwardingNoAnswer"), CallForwarding())
    assert dict(cfna.values)["numberOfRings"] == str(DEFAULT_RINGS)


def test_a_mapping_of_plain_json_reads_like_the_typed_document() -> None:
    plain = {"callForwarding": {"busy": {"enabled": True, "destination": "1002"}}}
    assert xsi.to_document(service("CallForwardingBusy"), plain).values == (
        ("active", "true"),
        ("forwardToPhoneNumber", "1002"),
    )


@pytest.mark.parametrize(
    ("text", "expected"), [("true", True), ("1", True), (" false ", False), ("0", False)]
)
def test_booleans_accept_the_xml_schema_spellings(text: str, expected: bool) -> None:
    patch = xsi.to_patch(service("CallWaiting"), doc(("active", text)))
    assert patch == {"enabled": expected}


def test_only_the_elements_sent_are_in_the_patch_and_unknown_ones_are_ignored() -> None:
    patch = xsi.to_patch(
        service("CallForwardingAlways"),
        doc(("ringSplash", "true"), ("somethingNew", "x"), root="CallForwardingAlways"),
    )
    assert patch == {"callForwarding": {"always": {"ringReminderEnabled": True}}}


def test_voice_messaging_maps_to_nested_voicemail_fields() -> None:
    patch = xsi.to_patch(
        service("VoiceMessaging"),
        doc(
            ("alwaysRedirectToVoiceMail", "true"),
            ("sendVoiceMessageNotifyEmail", "true"),
            ("voiceMessageNotifyEmailAddress", "ann@a.example"),
            ("usePhoneMessageWaitingIndicator", "false"),
            root="VoiceMessaging",
        ),
    )
    assert patch == {
        "sendAllCalls": {"enabled": True},
        "notifications": {"enabled": True, "destination": "ann@a.example"},
        "messageStorage": {"mwiEnabled": False},
    }


def test_nil_clears_a_text_value() -> None:
    svc = service("CallForwardingBusy")
    patch = xsi.to_patch(svc, doc(("forwardToPhoneNumber", None), root=svc.name))
    assert patch == {"callForwarding": {"busy": {"destination": None}}}
    current = apply_patch(CallForwarding(), {"callForwarding": {"busy": {"destination": "1002"}}})
    assert "forwardToPhoneNumber" not in dict(
        xsi.to_document(svc, apply_patch(current, patch)).values
    )


@pytest.mark.parametrize(
    ("rings", "expected"), [("0", DEFAULT_RINGS), ("2", 2), ("20", 20), ("25", 25)]
)
def test_rings_zero_means_the_default_and_the_upper_bound_is_left_to_the_rules(
    rings: str, expected: int
) -> None:
    svc = service("CallForwardingNoAnswer")
    patch = xsi.to_patch(svc, doc(("numberOfRings", rings), root=svc.name))
    assert patch == {"callForwarding": {"noAnswer": {"numberOfRings": expected}}}


BAD_VALUES = [
    ("CallWaiting", "active", "yes", "must be true or false, got 'yes'"),
    ("CallWaiting", "active", "", "must be true or false, got ''"),
    ("CallWaiting", "active", None, "cannot be cleared with xsi:nil"),
    (
        "CallForwardingNoAnswer",
        "numberOfRings",
        "1",
        "must be 0 (the system default) or at least 2",
    ),
    ("CallForwardingNoAnswer", "numberOfRings", "-3", "must be a whole number of rings"),
    ("CallForwardingNoAnswer", "numberOfRings", "3.5", "must be a whole number of rings"),
    ("CallForwardingNoAnswer", "numberOfRings", "9" * 5000, "must be a whole number of rings"),
    ("CallForwardingNoAnswer", "numberOfRings", "\u0663", "must be a whole number of rings"),
    ("CallForwardingNoAnswer", "numberOfRings", None, "cannot be cleared with xsi:nil"),
]


@pytest.mark.parametrize(("service_name", "element", "text", "message"), BAD_VALUES)
def test_bad_values_name_the_element_and_what_would_be_right(
    service_name: str, element: str, text: str | None, message: str
) -> None:
    with pytest.raises(InvalidSetting) as caught:
        xsi.to_patch(service(service_name), doc((element, text), root=service_name))
    assert caught.value.field == element
    assert message in caught.value.message


def test_webex_rule_errors_are_renamed_to_the_element() -> None:
    svc = service("CallForwardingNoAnswer")
    error = InvalidSetting("callForwarding.noAnswer.numberOfRings", "must be between 2 and 20")
    renamed = xsi.in_xsi_terms(svc, error)
    assert (renamed.field, str(renamed)) == (
        "numberOfRings",
        "numberOfRings: must be between 2 and 20",
    )
    other = xsi.in_xsi_terms(svc, InvalidSetting("callForwarding.busy.destination", "bad"))
    assert other.field == "callForwarding.busy.destination"
    loop = xsi.in_xsi_terms(
        svc, ForwardingLoop("callForwarding.noAnswer.destination", ["1001", "1002", "1001"])
    )
    assert isinstance(loop, ForwardingLoop)
    assert (loop.field, loop.cycle) == ("forwardToPhoneNumber", ["1001", "1002", "1001"])


def test_service_names_are_case_insensitive_and_unknown_ones_are_none() -> None:
    assert service("callwaiting").name == "CallWaiting"
    assert xsi.find_service("SimultaneousRing") is None


# ---- XML ------------------------------------------------------------------------------


def test_a_document_renders_with_declaration_and_namespace() -> None:
    rendered = xsi.render_xml(doc(("active", "true")).tree())
    assert rendered == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<CallWaiting xmlns="http://schema.broadsoft.com/xsi"><active>true</active></CallWaiting>'
    )


def test_rendering_escapes_markup_and_drops_characters_xml_cannot_carry() -> None:
    rendered = xsi.render_xml(xsi.error_info("got '<a>&\x01'", 40001)).decode()
    assert "<summary>got '&lt;a&gt;&amp;\ufffd'</summary>" in rendered
    assert xsi.parse_xml(rendered.encode(), "ErrorInfo").values[0] == (
        "summary",
        "got '<a>&\ufffd'",
    )


def test_nil_renders_with_the_instance_namespace_and_parses_back() -> None:
    original = doc(("forwardToPhoneNumber", None), ("active", "false"), root="CallForwardingBusy")
    rendered = xsi.render_xml(original.tree())
    assert f'xmlns:xsi="{xsi.INSTANCE_NAMESPACE}"'.encode() in rendered
    assert b'<forwardToPhoneNumber xsi:nil="true"/>' in rendered
    assert xsi.parse_xml(rendered, "CallForwardingBusy") == original


@given(
    st.text(
        st.characters(codec="utf-8", exclude_characters="\r", min_codepoint=0x20)
        | st.sampled_from("\t\n"),
        max_size=60,
    )
)
def test_any_text_survives_render_then_parse(text: str) -> None:
    text = text.replace("\ufffe", "").replace("\uffff", "")
    rendered = xsi.render_xml(doc(("forwardToPhoneNumber", text), root="CallForwardingBusy").tree())
    assert xsi.parse_xml(rendered, "CallForwardingBusy").values == (("forwardToPhoneNumber", text),)


def test_parse_reads_values_nil_and_empty_elements() -> None:
    body = (
        f'<CallForwardingAlways xmlns="{NS}" xmlns:xsi="{xsi.INSTANCE_NAMESPACE}">'
        "  <active>true</active>\n"
        '  <forwardToPhoneNumber xsi:nil="true"/>'
        "  <ringSplash></ringSplash>"
        "</CallForwardingAlways>"
    ).encode()
    assert xsi.parse_xml(body, "CallForwardingAlways").values == (
        ("active", "true"),
        ("forwardToPhoneNumber", None),
        ("ringSplash", ""),
    )


def test_a_prefixed_root_with_plain_children_is_accepted() -> None:
    body = f'<b:CallWaiting xmlns:b="{NS}"><active>false</active></b:CallWaiting>'.encode()
    assert xsi.parse_xml(body, "CallWaiting").values == (("active", "false"),)


def test_utf16_documents_are_read() -> None:
    body = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        f'<CallWaiting xmlns="{NS}"><active>1</active></CallWaiting>'
    )
    assert xsi.parse_xml(body.encode("utf-16"), "CallWaiting").values == (("active", "1"),)


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + f']><CallWaiting xmlns="{NS}"><active>&lol9;</active></CallWaiting>'
)
REFUSED = {
    "billion laughs": (BILLION_LAUGHS, "DTDs, entity declarations"),
    "external entity": (
        f'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><CallWaiting xmlns="{NS}">'
        "<active>&e;</active></CallWaiting>",
        "DTDs, entity declarations",
    ),
    "external DTD": (
        '<!DOCTYPE CallWaiting SYSTEM "http://127.0.0.1:9/evil.dtd">'
        f'<CallWaiting xmlns="{NS}"><active>true</active></CallWaiting>',
        "DTDs, entity declarations",
    ),
    "undeclared entity": (
        f'<CallWaiting xmlns="{NS}"><active>&e;</active></CallWaiting>',
        "undefined entity",
    ),
    "wrong namespace": (
        '<CallWaiting xmlns="http://example.com/other"><active>true</active></CallWaiting>',
        f"must be in the namespace {NS}, got http://example.com/other",
    ),
    "no namespace": (
        "<CallWaiting><active>true</active></CallWaiting>",
        "got no namespace",
    ),
    "wrong root": (
        f'<DoNotDisturb xmlns="{NS}"><active>true</active></DoNotDisturb>',
        "the root element must be <CallWaiting>, got <DoNotDisturb>",
    ),
    "child in another namespace": (
        f'<CallWaiting xmlns="{NS}"><o:active xmlns:o="urn:o">true</o:active></CallWaiting>',
        "<active> must be in the namespace",
    ),
    "nested": (
        f'<CallWaiting xmlns="{NS}"><active><active>true</active></active></CallWaiting>',
        "<active> is nested inside an element",
    ),
    "deeply nested": (
        f'<CallWaiting xmlns="{NS}">' + "<a>" * 5000 + "</a>" * 5000 + "</CallWaiting>",
        "<a> is nested inside an element",
    ),
    "duplicate": (
        f'<CallWaiting xmlns="{NS}"><active>true</active><active>false</active></CallWaiting>',
        "<active> appears more than once",
    ),
    "truncated": (f'<CallWaiting xmlns="{NS}"><active>true</active>', "not well-formed XML"),
    "junk after": (
        f'<CallWaiting xmlns="{NS}"><active>true</active></CallWaiting><x/>',
        "junk after document element",
    ),
    "empty": ("", "not well-formed XML"),
    "not xml": ('{"CallWaiting": {}}', "not well-formed XML"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_unacceptable_documents_are_refused_with_a_reason(case: str) -> None:
    body, reason = REFUSED[case]
    with pytest.raises(xsi.MalformedDocument) as caught:
        xsi.parse_xml(body.encode(), "CallWaiting")
    assert reason in str(caught.value)


# ---- BadgerFish -----------------------------------------------------------------------


def test_badgerfish_matches_what_xsi_clients_read() -> None:
    assert xsi.render_badgerfish(doc(("active", "true")).tree()) == {
        "CallWaiting": {"@xmlns": {"$": NS}, "active": {"$": "true"}}
    }


def test_badgerfish_writes_nil_empty_and_repeated_elements() -> None:
    tree: xsi.Node = ("Root", [("a", None), ("b", ""), ("c", "1"), ("c", "2"), ("c", "3")])
    assert xsi.render_badgerfish(tree) == {
        "Root": {
            "@xmlns": {"$": NS, "xsi": xsi.INSTANCE_NAMESPACE},
            "a": {"@xsi:nil": "true"},
            "b": {},
            "c": [{"$": "1"}, {"$": "2"}, {"$": "3"}],
        }
    }


def test_the_services_list_has_a_uri_per_service_below_the_xsi_root() -> None:
    tree = xsi.services_tree("ann@a.example")
    body: Any = xsi.render_badgerfish(tree)["Services"]["service"]
    assert [s["name"]["$"] for s in body] == [s.title for s in xsi.SERVICES]
    assert body[0]["name"] == {"$": "Call Forwarding Always"}
    assert [s["uri"]["$"] for s in body] == [
        f"/v2.0/user/ann@a.example/services/{s.name}" for s in xsi.SERVICES
    ]
    odd = xsi.render_xml(xsi.services_tree("a b/<c>")).decode()
    assert "<uri>/v2.0/user/a%20b%2F%3Cc%3E/services/CallWaiting</uri>" in odd


def test_the_mapping_needs_nothing_outside_the_settings_package() -> None:
    code = (
        "import sys, callsettings.settings.xsi, callsettings.settings.ucm;"
        "bad = [m for m in sys.modules if m.startswith(('callsettings.server', "
        "'callsettings.storage', 'litestar', 'sqlalchemy'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

"""BroadWorks XSI-Actions service documents and their mapping to the Webex feature documents.

No I/O: the service's XSI dialect and the SDK's BroadWorks backend share these tables, so both
translate between the dialects the same way.

An XSI service document is flat: a root element named after the service, in the XSI namespace,
holding one element per value (``<active>true</active>``). Each element stands for one path in
a Webex feature document (``callForwarding.always.enabled``). A read renders the Webex document
as XSI elements; a PUT becomes a Webex-shaped partial document (a patch), which the feature
service merges, validates and audits exactly as it does a Webex PUT.

Rings: BroadWorks accepts ``numberOfRings`` 0 or 2..max, where 0 means "the system default".
Webex has no 0, so 0 is stored as the default (3) and a read never shows 0.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import msgspec
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, iterparse

from callsettings.settings.documents import to_builtins
from callsettings.settings.errors import ForwardingLoop, InvalidSetting, SettingsError
from callsettings.settings.forwarding import DEFAULT_RINGS, MIN_RINGS

NAMESPACE = "http://schema.broadsoft.com/xsi"
INSTANCE_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
# Where XSI-Actions lives on a host; an organization's xsiActionsEndpoint ends with it.
ACTIONS_ROOT = "/com.broadsoft.xsi-actions"
VERSION = "v2.0"
XML_MEDIA_TYPE = "application/xml; charset=UTF-8"


class Kind(StrEnum):
    """How an element's text becomes a Webex value."""

    BOOLEAN = "boolean"
    TEXT = "text"  # a string; empty or xsi:nil clears it
    RINGS = "rings"  # a number of rings; 0 means the default


@dataclass(frozen=True, slots=True)
class Element:
    """One element of a service document and the Webex field it stands for."""

    name: str
    field: str  # dotted path in the Webex feature document
    kind: Kind = Kind.BOOLEAN


@dataclass(frozen=True, slots=True)
class Service:
    """One XSI service: its name in URLs, its title, its Webex feature and its elements."""

    name: str
    title: str
    feature: str  # the Webex feature document: callForwarding, doNotDisturb, ...
    elements: tuple[Element, ...]

    def element(self, name: str) -> Element | None:
        return next((e for e in self.elements if e.name == name), None)

    def element_for_field(self, field: str) -> str | None:
        """Return the element that carries the Webex field `field`, if any."""
        return next((e.name for e in self.elements if e.field == field), None)


def _service(name: str, title: str, feature: str, *elements: tuple[str, str, Kind]) -> Service:
    return Service(name, title, feature, tuple(Element(*e) for e in elements))


_B, _T, _R = Kind.BOOLEAN, Kind.TEXT, Kind.RINGS
_CFA, _CFB, _CFNA = "callForwarding.always", "callForwarding.busy", "callForwarding.noAnswer"
_CFNR = "businessContinuity"

SERVICES: tuple[Service, ...] = (
    _service(
        "CallForwardingAlways",
        "Call Forwarding Always",
        "callForwarding",
        ("active", f"{_CFA}.enabled", _B),
        ("forwardToPhoneNumber", f"{_CFA}.destination", _T),
        ("ringSplash", f"{_CFA}.ringReminderEnabled", _B),
    ),
    _service(
        "CallForwardingBusy",
        "Call Forwarding Busy",
        "callForwarding",
        ("active", f"{_CFB}.enabled", _B),
        ("forwardToPhoneNumber", f"{_CFB}.destination", _T),
    ),
    _service(
        "CallForwardingNoAnswer",
        "Call Forwarding No Answer",
        "callForwarding",
        ("active", f"{_CFNA}.enabled", _B),
        ("forwardToPhoneNumber", f"{_CFNA}.destination", _T),
        ("numberOfRings", f"{_CFNA}.numberOfRings", _R),
    ),
    _service(
        "CallForwardingNotReachable",
        "Call Forwarding Not Reachable",
        "callForwarding",
        ("active", f"{_CFNR}.enabled", _B),
        ("forwardToPhoneNumber", f"{_CFNR}.destination", _T),
    ),
    _service(
        "DoNotDisturb",
        "Do Not Disturb",
        "doNotDisturb",
        ("active", "enabled", _B),
        ("ringSplash", "ringSplashEnabled", _B),
    ),
    _service(
        "CallWaiting",
        "Call Waiting",
        "callWaiting",
        ("active", "enabled", _B),
    ),
    _service(
        "VoiceMessaging",
        "Voice Messaging User",
        "voicemail",
        ("active", "enabled", _B),
        ("alwaysRedirectToVoiceMail", "sendAllCalls.enabled", _B),
        ("busyRedirectToVoiceMail", "sendBusyCalls.enabled", _B),
        ("noAnswerRedirectToVoiceMail", "sendUnansweredCalls.enabled", _B),
        ("usePhoneMessageWaitingIndicator", "messageStorage.mwiEnabled", _B),
        ("sendVoiceMessageNotifyEmail", "notifications.enabled", _B),
        ("voiceMessageNotifyEmailAddress", "notifications.destination", _T),
        ("sendCarbonCopyVoiceMessage", "emailCopyOfMessage.enabled", _B),
        ("voiceMessageCarbonCopyEmailAddress", "emailCopyOfMessage.emailId", _T),
        ("transferOnZeroToPhoneNumber", "transferToNumber.enabled", _B),
        ("transferPhoneNumber", "transferToNumber.destination", _T),
    ),
)

_BY_NAME = {service.name.lower(): service for service in SERVICES}


def find_service(name: str) -> Service | None:
    """Return the service named `name` (case-insensitive, as BroadWorks URLs are)."""
    return _BY_NAME.get(name.lower())


# ---- documents ------------------------------------------------------------------------

# A tree to render: (element name, text | None for xsi:nil | child nodes).
Node = tuple[str, "str | Sequence[Node] | None"]


@dataclass(frozen=True, slots=True)
class XsiDocument:
    """A flat service document: the root name and (element, text) pairs; None is xsi:nil."""

    root: str
    values: tuple[tuple[str, str | None], ...] = ()

    def tree(self) -> Node:
        return (self.root, self.values)


def to_document(service: Service, settings: msgspec.Struct | Mapping[str, Any]) -> XsiDocument:
    """Return the XSI document of `service` read from a Webex feature document.

    Values the Webex document leaves unset (a destination nobody chose) are left out.
    """
    data = to_builtins(settings) if isinstance(settings, msgspec.Struct) else settings
    values = []
    for element in service.elements:
        value = _lookup(data, element.field)
        if value is not None:
            values.append((element.name, _text(value)))
    return XsiDocument(service.name, tuple(values))


def to_patch(service: Service, document: XsiDocument) -> dict[str, Any]:
    """Return the Webex-shaped partial document for the elements an XSI PUT carries.

    Only the elements sent change. Elements the service does not know are ignored, as the
    Webex dialect ignores unknown keys.

    Raises:
        InvalidSetting: naming the element whose text is not of its kind.
    """
    patch: dict[str, Any] = {}
    for name, text in document.values:
        element = service.element(name)
        if element is not None:
            _put(patch, element.field.split("."), _value(element, text))
    return patch


def in_xsi_terms(service: Service, error: InvalidSetting) -> InvalidSetting:
    """Return `error` naming the XSI element instead of the Webex field, where one maps."""
    element = service.element_for_field(error.field) or error.field
    if isinstance(error, ForwardingLoop):
        return ForwardingLoop(element, error.cycle)
    return InvalidSetting(element, error.message)


def _lookup(data: Mapping[str, Any], field: str) -> Any:
    value: Any = data
    for key in field.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _put(patch: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        patch = patch.setdefault(key, {})
    patch[path[-1]] = value


def _value(element: Element, text: str | None) -> Any:
    if text is None:
        if element.kind is Kind.TEXT:
            return None  # a null in a patch clears the value
        raise InvalidSetting(element.name, "cannot be cleared with xsi:nil; send a value")
    return _PARSERS[element.kind](element.name, text.strip())


def _boolean(name: str, text: str) -> bool:
    # xs:boolean allows 1 and 0 as well as true and false.
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise InvalidSetting(name, f"must be true or false, got {text!r}")


def _rings(name: str, text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 4):
        raise InvalidSetting(name, f"must be a whole number of rings, got {text!r}")
    rings = int(text)
    if rings == 0:
        return DEFAULT_RINGS
    if rings < MIN_RINGS:
        raise InvalidSetting(
            name, f"must be 0 (the system default) or at least {MIN_RINGS}, got {rings}"
        )
    return rings


_PARSERS: dict[Kind, Callable[[str, str], Any]] = {
    Kind.BOOLEAN: _boolean,
    Kind.TEXT: lambda _name, text: text,
    Kind.RINGS: _rings,
}


def services_tree(user_id: str) -> Node:
    """Return the list of configurable services, each with its URI below the XSI root."""
    user = quote(user_id, safe="@.+-_~")
    return (
        "Services",
        [
            (
                "service",
                [("name", s.title), ("uri", f"/{VERSION}/user/{user}/services/{s.name}")],
            )
            for s in SERVICES
        ],
    )


def error_info(summary: str, code: int) -> Node:
    """Return the ErrorInfo document XSI answers with on any non-2xx status."""
    return (
        "ErrorInfo",
        [("summary", summary), ("summaryEnglish", summary), ("errorCode", str(code))],
    )


# ---- XML and BadgerFish ---------------------------------------------------------------


class MalformedDocument(SettingsError):
    """A body that is not an acceptable XSI document; nothing in it was used."""


def parse_xml(body: bytes, root: str) -> XsiDocument:
    """Return the flat XSI document in `body`, whose root element must be `root`.

    A DTD is refused as soon as it starts, so entities are never expanded and nothing
    external is fetched.

    Raises:
        MalformedDocument: not well-formed, a DTD, the wrong root or namespace, nested
            elements, or an element given twice.
    """
    events = iterparse(
        io.BytesIO(body),
        events=("start", "end"),
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )
    try:
        return _read(events, root)
    except DefusedXmlException as exc:
        raise MalformedDocument(
            "DTDs, entity declarations and external references are not allowed"
        ) from exc
    except ParseError as exc:
        raise MalformedDocument(f"the body is not well-formed XML: {exc}") from exc


def _read(events: Iterable[tuple[str, Any]], root: str) -> XsiDocument:
    depth = 0
    values: dict[str, str | None] = {}
    for event, element in events:
        namespace, name = _split(element.tag)
        if event == "end":
            if depth == 2:
                _keep(values, name, element)
            depth -= 1
            continue
        depth += 1
        if depth == 1:
            _check_root(namespace, name, root)
        elif depth == 2:
            _check_child(namespace, name)
        else:
            # Service documents are flat; refusing any nesting also stops deep documents.
            raise MalformedDocument(f"<{name}> is nested inside an element; elements hold text")
    return XsiDocument(root, tuple(values.items()))


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _check_root(namespace: str, name: str, root: str) -> None:
    if namespace != NAMESPACE:
        raise MalformedDocument(
            f"the root element must be in the namespace {NAMESPACE}, "
            f"got {namespace or 'no namespace'}"
        )
    if name != root:
        raise MalformedDocument(f"the root element must be <{root}>, got <{name}>")


def _check_child(namespace: str, name: str) -> None:
    # A child without a namespace is accepted: it is what a prefixed root produces.
    if namespace not in (NAMESPACE, ""):
        raise MalformedDocument(f"<{name}> must be in the namespace {NAMESPACE}, got {namespace}")


def _keep(values: dict[str, str | None], name: str, element: Any) -> None:
    if name in values:
        raise MalformedDocument(f"<{name}> appears more than once")
    nil = element.get(f"{{{INSTANCE_NAMESPACE}}}nil", "false") in ("true", "1")
    values[name] = None if nil else (element.text or "")


# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape(text: str) -> str:
    clean = _NOT_XML.sub("\ufffd", text)
    return clean.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_xml(root: Node) -> bytes:
    """Return `root` as an XML document in the XSI namespace."""
    attributes = f' xmlns="{NAMESPACE}"'
    if _has_nil(root):
        attributes += f' xmlns:xsi="{INSTANCE_NAMESPACE}"'
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    _write(parts, root, attributes)
    return "".join(parts).encode()


def _write(parts: list[str], node: Node, attributes: str = "") -> None:
    name, content = node
    if content is None:
        parts.append(f'<{name}{attributes} xsi:nil="true"/>')
    elif isinstance(content, str):
        parts.append(f"<{name}{attributes}>{_escape(content)}</{name}>")
    else:
        parts.append(f"<{name}{attributes}>")
        for child in content:
            _write(parts, child)
        parts.append(f"</{name}>")


def _has_nil(node: Node) -> bool:
    content = node[1]
    if content is None:
        return True
    return not isinstance(content, str) and any(_has_nil(child) for child in content)


def render_badgerfish(root: Node) -> dict[str, Any]:
    """Return `root` in the BadgerFish JSON convention XSI uses for ``?format=json``.

    Text is ``{"$": text}``, namespaces are ``@xmlns``, and repeated elements become lists.
    """
    name, content = root
    xmlns = {"$": NAMESPACE}
    if _has_nil(root):
        xmlns["xsi"] = INSTANCE_NAMESPACE
    return {name: {"@xmlns": xmlns, **_badgerfish(content)}}


def _badgerfish(content: str | Sequence[Node] | None) -> dict[str, Any]:
    if content is None:
        return {"@xsi:nil": "true"}
    if isinstance(content, str):
        return {"$": content} if content else {}
    result: dict[str, Any] = {}
    for name, child in content:
        value = _badgerfish(child)
        if name not in result:
            result[name] = value
        elif isinstance(result[name], list):
            result[name].append(value)
        else:
            result[name] = [result[name], value]
    return result

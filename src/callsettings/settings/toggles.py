"""Do Not Disturb and call waiting: small documents of toggles."""

from __future__ import annotations

import msgspec


class DoNotDisturb(msgspec.Struct, rename="camel"):
    enabled: bool = False
    ring_splash_enabled: bool = False
    webex_go_override_enabled: bool = False


class CallWaiting(msgspec.Struct, rename="camel"):
    # On by default, as on Webex Calling and BroadWorks.
    enabled: bool = True

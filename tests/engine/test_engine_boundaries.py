"""The engine is pure: it loads nothing of the server, storage or SDK, and no I/O library."""

from __future__ import annotations

import json
import subprocess
import sys


def test_the_engine_depends_on_the_settings_domain_only() -> None:
    code = "import json, sys\nimport callsettings.engine\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    ours = [m for m in loaded if m.startswith("callsettings")]
    assert "callsettings.engine.decide" in ours
    outside = [
        m for m in ours if not m.startswith(("callsettings.engine", "callsettings.settings"))
    ]
    assert outside == ["callsettings"]
    top_level = {m.split(".")[0] for m in loaded}
    assert not {"sqlalchemy", "litestar", "httpx", "uvicorn", "asyncpg", "aiosqlite"} & top_level

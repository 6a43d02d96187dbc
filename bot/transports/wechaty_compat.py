"""Make python-wechaty 0.10.7 importable on Python 3.10–3.12 (DESIGN.md §4).

- pyee 8.2.2 and urllib3<2 are pinned in pyproject.toml (newer ones break the import);
- wechaty_puppet's PuppetOptions is a dataclass without __hash__, which wechaty puts in a
  set/dict at import time: give it identity hashing before the first `import wechaty`.
Import wechaty only through `load()` so the patch always comes first.
"""

from __future__ import annotations

import os
import warnings

_patched = False


def load():
    """Return the `wechaty` module, patched."""
    global _patched
    # python-wechaty's loggers take their level from WECHATY_LOG at import; below ERROR they log every RPC.
    os.environ.setdefault("WECHATY_LOG", "error")
    if not _patched:
        from wechaty_puppet import PuppetOptions

        PuppetOptions.__hash__ = object.__hash__
        _patched = True
    with warnings.catch_warnings():
        # telnetlib (used by wechaty-puppet-service to ping the gateway) is deprecated since 3.11.
        warnings.simplefilter("ignore", DeprecationWarning)
        import telnetlib  # noqa: F401
        import wechaty
    return wechaty

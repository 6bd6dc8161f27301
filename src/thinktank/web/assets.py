"""Where the UI's templates, our static files and the npm-installed vendor scripts live."""

from __future__ import annotations

from pathlib import Path

from thinktank.errors import ConfigurationError

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
VENDOR_FILES = ("htmx.min.js",)


def check_vendor_files() -> None:
    """The vendor scripts come from the npm registry at setup (`make`), never from git."""
    missing = [name for name in VENDOR_FILES if not (STATIC_DIR / "vendor" / name).is_file()]
    if missing:
        raise ConfigurationError(
            f"the web UI's scripts are not installed ({', '.join(missing)}): run `make web-assets` "
            "(npm ci in frontend/, then a copy into src/thinktank/web/static/vendor)"
        )

"""Static files that come from installed packages rather than from frontend/static/.

Plotly.js is served from the plotly package itself (D8), at the version uv.lock pins, so the
repository does not carry a 4.6 MB copy that could drift from it. Only the one file is exposed:
the package's data directory also holds datasets and a widget bundle nobody should download.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, overload

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"
PLOTLY_PREFIX = "vendor/plotly"
PLOTLY_FILE = "plotly.min.js"


class PackageAssetFinder(BaseFinder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=PLOTLY_DIR)
        # collectstatic and WhiteNoise place a storage's files under its prefix.
        self.storage.prefix = PLOTLY_PREFIX  # type: ignore[attr-defined]

    def check(self, **kwargs: Any) -> list[Any]:
        return []

    @overload
    def find(self, path: str, find_all: Literal[False] = False) -> str | None: ...

    @overload
    def find(self, path: str, find_all: Literal[True]) -> list[str]: ...

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str] | None:
        if path == f"{PLOTLY_PREFIX}/{PLOTLY_FILE}":
            found = str(PLOTLY_DIR / PLOTLY_FILE)
            return [found] if find_all else found
        # Not found is [] either way, as Django's own finders answer: staticfiles.finders.find
        # would take a None for a match.
        return []

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        yield PLOTLY_FILE, self.storage

"""The CJK font embedded in PDFs.

A PDF read on a phone must carry its Chinese glyphs (no phone has 宋体 for us), so the
font is embedded, subset to the characters used. It is found, in order, at
``BAOXUE_PDF_FONT`` (a .ttf/.ttc/.otf path) or at the places Debian's packages install
one: ``fonts-wqy-microhei`` (what the Makefile installs), ``fonts-wqy-zenhei``,
``fonts-noto-cjk``. A missing font is a clear error naming the package, not a PDF of
empty boxes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ENV = "BAOXUE_PDF_FONT"
DEBIAN_PACKAGE = "fonts-wqy-microhei"
CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # 2: the SC face
)


class FontMissing(RuntimeError):
    """No CJK font to embed: PDFs cannot be made (DOCX still can)."""


@dataclass(frozen=True)
class FontFile:
    path: Path
    index: int  # the face inside a .ttc collection


@lru_cache(maxsize=1)
def cjk_font() -> FontFile:
    configured = os.environ.get(ENV)
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise FontMissing(f"{ENV}={configured} is not a font file")
        return FontFile(path, 0)
    for candidate, index in CANDIDATES:
        if Path(candidate).is_file():
            return FontFile(Path(candidate), index)
    raise FontMissing(
        "No Chinese font for PDFs: install Debian's "
        f"{DEBIAN_PACKAGE} (apt-get install {DEBIAN_PACKAGE}) or set {ENV} to a .ttf/.ttc file"
    )

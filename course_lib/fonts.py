"""A font with Chinese glyphs for figures and saved widget pictures, found on the machine.

Matplotlib's and Pillow's default font, DejaVu Sans, has no Chinese glyphs: Chinese text is drawn
as empty boxes. The course uses a CJK font that the learner's system already has (Debian and
Ubuntu: `fonts-noto-cjk`, which `make e2e-deps` installs; macOS: PingFang; Windows: Microsoft
YaHei; also WenQuanYi and Source Han Sans), or the font file named by `$COURSE_CJK_FONT`. It is added
as a *fallback* after DejaVu Sans, so Latin letters and digits look the same in both editions and
each Chinese character comes from the CJK font.

Why found, not shipped: every desktop system a Chinese-reading learner uses has such a font, and the
candidates that could be shipped offline are large (PyPI's `mplfonts` wheel is 85 MB for six fonts)
or in a format Matplotlib cannot read (npm's `@fontsource/noto-sans-sc` ships only WOFF/WOFF2
subsets). Where none is found, `use_cjk_font` warns once, naming the fix.
"""

from __future__ import annotations

from .i18n import _

import functools
import os
import warnings
from pathlib import Path

CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",      # Debian, Ubuntu: fonts-noto-cjk
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",           # Arch, Fedora
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",                 # WenQuanYi Zen Hei
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",                           # macOS
    "/System/Library/Fonts/STHeiti Light.ttc",
    "C:/Windows/Fonts/msyh.ttc",                                    # Windows: Microsoft YaHei
    "C:/Windows/Fonts/simhei.ttf",
)
BASE = "DejaVu Sans"


def cjk_font_file() -> Path | None:
    """The CJK font file to use: `$COURSE_CJK_FONT`, else the first of `CANDIDATES` present."""
    chosen = os.environ.get("COURSE_CJK_FONT", "").strip()
    if chosen:
        return Path(chosen) if Path(chosen).is_file() else None
    return next((Path(p) for p in CANDIDATES if Path(p).is_file()), None)


@functools.lru_cache(maxsize=None)
def _register(path: str) -> str | None:
    """Add a font file to Matplotlib; the family name of its Simplified Chinese face."""
    from matplotlib import font_manager

    before = {f.name for f in font_manager.fontManager.ttflist}
    try:
        font_manager.fontManager.addfont(path)
    except (OSError, RuntimeError, ValueError):
        return None
    added = [f.name for f in font_manager.fontManager.ttflist if f.fname == path] or \
        sorted({f.name for f in font_manager.fontManager.ttflist} - before)
    return next((n for n in added if n.endswith(" SC")), added[0] if added else None)


_WARNED: list[bool] = []


def use_cjk_font() -> str | None:
    """Make Matplotlib draw Chinese glyphs: DejaVu Sans first, the CJK font as its fallback.
    Returns the CJK family's name, or None when none is found (with one warning naming the fix)."""
    import matplotlib

    path = cjk_font_file()
    name = _register(str(path)) if path is not None else None
    if name is None:
        if not _WARNED:
            _WARNED.append(True)
            warnings.warn(_("no font with Chinese glyphs was found, so Chinese text in figures is drawn as boxes. "
                            "Install one (Debian/Ubuntu: sudo apt-get install fonts-noto-cjk) or set COURSE_CJK_FONT "
                            "to a .ttf/.otf/.ttc file with Chinese glyphs."), RuntimeWarning, stacklevel=2)
        return None
    family = list(matplotlib.rcParams["font.family"])
    if family != [BASE, name]:
        matplotlib.rcParams["font.family"] = [BASE, name]
    return name


def pil_font(size: int, chinese: bool):
    """A Pillow font for the saved widget pictures: the CJK font for Chinese text (it has Latin
    glyphs too), else DejaVu Sans."""
    import matplotlib
    from PIL import ImageFont

    path = cjk_font_file() if chinese else None
    if path is not None:
        try:
            return ImageFont.truetype(str(path), size, index=_sc_index(path))
        except OSError:
            pass
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), size)


def _sc_index(path: Path) -> int:
    """The face of a .ttc collection that holds Simplified Chinese (Noto Sans CJK: 'SC')."""
    if path.suffix.lower() != ".ttc":
        return 0
    from PIL import ImageFont

    for i in range(10):
        try:
            family = ImageFont.truetype(str(path), 12, index=i).getname()[0]
        except OSError:
            break
        if family.endswith(" SC"):
            return i
    return 0

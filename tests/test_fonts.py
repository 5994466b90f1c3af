"""Issue 26.3-4: Chinese text in figures and saved widget pictures is drawn with real glyphs.
Matplotlib's "Glyph … missing from font" warning is an error in every test (pyproject.toml)."""

import io
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from course_lib import fonts, i18n, snapshot


def test_a_font_with_chinese_glyphs_is_found_and_used():
    assert fonts.cjk_font_file() is not None, "no CJK font: install fonts-noto-cjk (make e2e-deps does)"
    name = fonts.use_cjk_font()
    assert name and list(plt.rcParams["font.family"]) == [fonts.BASE, name]


def test_a_chinese_figure_draws_without_missing_glyphs():
    fonts.use_cjk_font()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # a missing glyph would raise here
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0], label="残差网络")
        ax.set(title="普通网络与残差网络：训练误差", xlabel="深度", ylabel="误差")
        ax.legend()
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)


def test_without_a_cjk_font_the_missing_glyph_is_an_error(monkeypatch):
    """The guard itself: drawn with DejaVu Sans only, Chinese text fails the test."""
    monkeypatch.setitem(plt.rcParams, "font.family", ["DejaVu Sans"])
    fig, ax = plt.subplots()
    ax.set_title("残差")
    with pytest.raises(UserWarning, match="missing from font"):
        fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)


def _text_picture(text: str) -> np.ndarray:
    with i18n.using("zh"):
        png = snapshot.picture([("markdown", text)])
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def test_a_chinese_widget_picture_draws_glyphs_not_boxes():
    """With a font that lacks them, every Chinese character is the same empty box: two different
    texts of the same length would then draw the same picture."""
    a, b = _text_picture("设置：深度 = 20"), _text_picture("设置：残差 = 20")
    assert a.shape == b.shape and (a != b).any()
    with i18n.using("zh"):
        parts = [("markdown", i18n._(snapshot.CAPTION))]
    assert parts[0][1].startswith("小部件的保存图片")

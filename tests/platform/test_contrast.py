"""The colour tokens in app.css meet WCAG 2.2 AA in light and dark mode.

The ratios are computed from the stylesheet itself, so a token changed there is checked here:
4.5:1 for text (1.4.3), 3:1 for the edges of controls and the focus ring (1.4.11)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

CSS = Path(settings.BASE_DIR) / "frontend" / "static" / "css" / "app.css"
TEXT = 4.5
NON_TEXT = 3.0

# (foreground, background, minimum): every pair the kit draws text or a control edge with.
PAIRS = [
    ("--color-text", "--color-bg", TEXT),
    ("--color-text", "--color-surface", TEXT),
    ("--color-text", "--color-surface-sunken", TEXT),
    ("--color-text-muted", "--color-bg", TEXT),
    ("--color-text-muted", "--color-surface", TEXT),
    ("--color-text-muted", "--color-surface-sunken", TEXT),
    ("--color-link", "--color-bg", TEXT),
    ("--color-link", "--color-surface", TEXT),
    ("--color-link", "--color-surface-sunken", TEXT),
    ("--color-accent-hover", "--color-surface", TEXT),
    ("--color-on-accent", "--color-accent", TEXT),
    ("--color-on-accent", "--color-accent-hover", TEXT),
    ("--color-on-danger", "--color-danger", TEXT),
    ("--color-on-danger", "--color-danger-text", TEXT),
    ("--color-on-success", "--color-success", TEXT),
    ("--color-on-warning", "--color-warning", TEXT),
    ("--color-danger-text", "--color-surface", TEXT),
    ("--color-danger-text", "--color-danger-subtle", TEXT),
    ("--color-success-text", "--color-surface", TEXT),
    ("--color-success-text", "--color-success-subtle", TEXT),
    ("--color-warning-text", "--color-warning-subtle", TEXT),
    ("--color-info-text", "--color-info-subtle", TEXT),
    ("--color-info-text", "--color-accent-subtle", TEXT),
    ("--color-inverse-text", "--color-inverse-bg", TEXT),
    ("--color-text", "--color-info-subtle", TEXT),
    ("--color-border-strong", "--color-surface", NON_TEXT),
    ("--color-border-strong", "--color-bg", NON_TEXT),
    ("--color-focus", "--color-bg", NON_TEXT),
    ("--color-focus", "--color-surface", NON_TEXT),
    ("--color-accent", "--color-surface", NON_TEXT),
    ("--color-danger", "--color-surface", NON_TEXT),
]


def _block_after(text: str, start: int) -> str:
    """The body of the {…} block whose opening brace is the first one at or after start."""
    opening = text.index("{", start)
    depth = 0
    for index in range(opening, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[opening + 1 : index]
    raise ValueError("unbalanced braces in app.css")


def _colours(block: str) -> dict[str, str]:
    return dict(re.findall(r"(--color-[a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;", block))


def tokens(scheme: str) -> dict[str, str]:
    css = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    light = _colours(_block_after(css, css.index(":root")))
    if scheme == "light":
        return light
    media = _block_after(css, css.index("@media (prefers-color-scheme: dark)"))
    dark = _colours(_block_after(media, media.index(":root")))
    return {**light, **dark}


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula_matches_known_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)


def test_dark_mode_redefines_every_colour():
    light = tokens("light")
    css = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    media = _block_after(css, css.index("@media (prefers-color-scheme: dark)"))
    dark_only = _colours(_block_after(media, media.index(":root")))
    assert len(light) >= 20
    assert set(dark_only) == set(light)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_token_pairs_meet_wcag_aa(scheme):
    colours = tokens(scheme)
    failing = []
    for foreground, background, minimum in PAIRS:
        ratio = contrast(colours[foreground], colours[background])
        if ratio < minimum:
            failing.append(f"{foreground} on {background}: {ratio:.2f} < {minimum}")
    assert failing == []

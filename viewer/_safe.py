"""Showing untrusted text (model output, documents, span names) without it turning into markup.

Streamlit renders Markdown in ``st.markdown``, ``st.caption``, headings and widget labels;
Markdown can load an image from any URL (a way out for data) and Streamlit adds its own
``:color[...]`` and ``:emoji:`` syntax. Content goes through ``st.text``/``st.code``/
``st.dataframe``, which never interpret it; where a label must mix our Markdown with a
value from the store, the value goes through :func:`md` first.
"""

from __future__ import annotations

import re
from typing import Any

# CommonMark lets a backslash escape any ASCII punctuation, so escaping all of it is safe
# whatever the character means to Markdown or to Streamlit's extensions.
_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")


def md(value: Any, limit: int = 200) -> str:
    """``value`` as literal text inside Markdown: one line, bounded, every punctuation escaped."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _PUNCT.sub(r"\\\1", text)

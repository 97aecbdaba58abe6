"""The Spyglass viewer: a local Streamlit app over a store, read through ``tracer.Store`` only.

    spyglass view                 # http://127.0.0.1:8501 on ./spyglass.duckdb (or $SPYGLASS_DB)
    spyglass view --db runs.duckdb --port 8600

Layout: ``app.py`` (the Streamlit script: routing only), ``_trace_list.py`` (screen 1),
``_trace_detail.py`` (screen 2), ``_panels.py`` (screen 3, the span detail, with
``_context_panel.py`` and ``_hints.py``),
``_trace_compare.py`` (screen 4, two traces side by side), ``_annotate.py`` and
``_replay_panel.py`` (the annotation form and the replay box), ``_data.py`` (every read and
the annotation write, cached and turned into clear messages), ``_messages.py``,
``_grounding.py``, ``_calls.py``, ``_outcome.py``, ``_context.py``, ``_elsewhere.py``,
``_compare.py``, ``_replay.py`` and ``_tree.py`` (pure: parsing, provenance, grounding
results, logical LLM calls, what the user received, missing context, comparison, replay
requests, layout; no Streamlit),
``_launch.py`` (the ``spyglass view`` command).
"""

from ._launch import APP_PATH, streamlit_command

__all__ = ["APP_PATH", "streamlit_command"]

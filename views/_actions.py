"""Guarded writes: each button's work is carried out once per token, its message shown once, and the
cached reads cleared after it (the pages then read what is stored now)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from engine.service import BillsimError
from views import _reads


def flash(kind: str, text: str) -> None:
    st.session_state.setdefault("flash", []).append((kind, text))


def show_flash() -> None:
    """Messages of the action just carried out (by a button callback), shown once."""
    for kind, text in st.session_state.get("flash", []):
        {"error": st.error, "warning": st.warning, "info": st.info}.get(kind, st.success)(text)
    st.session_state["flash"] = []


def data_changed() -> None:
    """After any write: every cached read may be stale."""
    _reads.clear()


def run_action(token: tuple, label: str, work: Callable[[], str | None], *, show_refusal: bool = True) -> None:
    """Carry out a write once per token (a button's on_click callback).

    The token names the action and the state the button was drawn for (e.g. ('finalize', invoice_id)),
    so a double click, or a rerun that replays the click, finds the token done and does nothing. The
    user is told what the first click did (once: not again while its message is still to be shown).
    A refused action (BillsimError) is shown as an error (unless the page shows it itself:
    `show_refusal=False`) and leaves its token free for a retry.
    """
    done: dict = st.session_state.setdefault("done_actions", {})
    if token in done:
        message = done[token]
        pending = [text for _, text in st.session_state.get("flash", [])]
        if message and message not in pending:
            flash("success", f"{message} (carried out once; the repeated click changed nothing)")
        return
    done[token] = None
    try:
        with st.spinner(f"{label}…"):
            message = work()
    except BillsimError as exc:
        del done[token]
        if show_refusal:
            flash("error", f"{label} refused: {exc}")
    else:
        done[token] = message or f"{label}: done."
        if message:
            flash("success", message)
    finally:
        data_changed()

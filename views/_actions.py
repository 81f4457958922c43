"""Guarded writes: each button's work is carried out once per token, its outcome shown where the button is
(and kept there until the next action), and the cached reads cleared after it (the pages then read what is
stored now).

Where: every action names its place (`where`, e.g. "rv_actions"); the page draws `show_flash(where)` right under
the buttons of that place, so "Hold: give the reason first" appears next to "Put on hold", not 800 px above it.
Only the last action's messages are kept (a new action replaces them; another page clears them: app.py).

Popovers: a popover that holds an action is drawn by `action_popover` (its open state tracked under its key);
the action closes it (`close_popover`), so no popover stays open showing what the data was before the action.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from engine.service import BillsimError
from views import _reads
from views._format import markdown_text

PAGE = "page"  # the top of the page: what no button's place claims (a page-wide refusal, a finished import)
RUNS, SHOWN_IN_RUN = "full_runs", "shown_in_run"  # count_run, refusal_until_next_action
SHOW = {"error": st.error, "warning": st.warning, "info": st.info, "success": st.success}


def _feedback() -> dict:
    return st.session_state.setdefault("feedback", {"where": None, "messages": []})


def clear_feedback() -> None:
    """Forget the last action's messages (another page was opened)."""
    st.session_state["feedback"] = {"where": None, "messages": []}


def flash(kind: str, text: str, where: str = PAGE) -> None:
    """Say what an action did (or why it did nothing) at its place `where`, in place of the messages of the
    action before: what is shown is always the outcome of the last action."""
    st.session_state["feedback"] = {"where": where, "messages": [(kind, text)]}


def drop_refusal(where: str) -> None:
    """Forget the last action's refusal at `where` (e.g. its form has changed since: the refusal was of what it held
    then); any other message stays."""
    fb = _feedback()
    if fb["where"] == where and any(kind == "error" for kind, _ in fb["messages"]):
        clear_feedback()


def count_run() -> None:
    """One more full run of the page (app.py): every full run follows something the analyst did (a click, a
    widget changed, a popover opened)."""
    st.session_state[RUNS] = st.session_state.get(RUNS, 0) + 1


def refusal_until_next_action(where: str) -> None:
    """In an action's callback, after it: a refusal it left at `where` goes as soon as the analyst does anything
    else (the run after the one that shows it; `drop_stale_refusal` on the page drops it). The mark is the
    refusal's own: the next action's messages replace it."""
    fb = _feedback()
    if fb["where"] == where and any(kind == "error" for kind, _ in fb["messages"]):
        fb[SHOWN_IN_RUN] = st.session_state.get(RUNS, 0) + 1  # the run about to show it


def drop_stale_refusal(where: str) -> None:
    """Forget the refusal `refusal_until_next_action` marked at `where` once a later run (another action) came."""
    fb = _feedback()
    shown_in = fb.get(SHOWN_IN_RUN)
    if fb["where"] == where and shown_in is not None and st.session_state.get(RUNS, 0) > shown_in:
        drop_refusal(where)


def show_flash(where: str = PAGE) -> None:
    """The last action's messages, if it was made here (kept: shown again on every rerun until the next action).
    Their '$' are escaped (markdown_text): a message naming two amounts drew the text between them as a formula."""
    fb = _feedback()
    if fb["where"] == where:
        for kind, text in fb["messages"]:
            SHOW.get(kind, st.success)(markdown_text(text))


def has_flash(where: str) -> bool:
    """Whether the last action's messages are shown at `where` (e.g. to keep the expander holding them open)."""
    fb = _feedback()
    return fb["where"] == where and bool(fb["messages"])


def data_changed() -> None:
    """After any write: every cached read may be stale, and a fragment that carried out the write draws the whole
    page again (the flag is dropped by every full run of app.py)."""
    _reads.clear()
    st.session_state["data_changed"] = True


def action_popover(label: str, key: str, **kwargs):
    """A popover whose open state is tracked under `key` (so an action inside it can close it)."""
    return st.popover(label, key=key, on_change="rerun", **kwargs)


def close_popover(key: str) -> None:
    """Close a popover of `action_popover` (in a button's callback: before the page is drawn again)."""
    st.session_state[key] = False


def run_action(
    token: tuple,
    label: str,
    work: Callable[[], str | None],
    *,
    where: str = PAGE,
    refused_where: str | None = None,
    show_refusal: bool = True,
    close: str | None = None,
) -> bool:
    """Carry out a write once per token (a button's on_click callback); True when it was carried out now.

    The token names the action and the state the button was drawn for (e.g. ('finalize', invoice_id)),
    so a double click, or a rerun that replays the click, finds the token done and does nothing. The
    user is told what the first click did, at the action's place `where`. A refused action
    (BillsimError) is shown as an error (unless the page shows it itself: `show_refusal=False`) and leaves
    its token free for a retry, at `refused_where` when given (an action in a popover: the popover stays open, so
    its refusal is said inside it, not under it where the open popover covers it). `close`: the key of the action's
    popover, closed once the action is done.
    """
    done: dict = st.session_state.setdefault("done_actions", {})
    if token in done:
        message = done[token]
        fb = _feedback()
        if message and not (fb["where"] == where and ("success", message) in fb["messages"]):
            flash("success", f"{message} (carried out once; the repeated click changed nothing)", where)
        if close:
            close_popover(close)
        return False
    done[token] = None
    try:
        with st.spinner(f"{label}…"):
            message = work()
    except BillsimError as exc:
        del done[token]
        if show_refusal:
            flash("error", f"{label} refused: {exc}", refused_where or where)
        else:  # the page shows the refusal itself (e.g. the import's problems): no older message beside it
            clear_feedback()
        return False
    else:
        done[token] = message or f"{label}: done."
        flash("success", done[token], where)
        if close:
            close_popover(close)
        return True
    finally:
        data_changed()

"""Widget values that survive a visit to another page.

Streamlit forgets a widget's value when a run of the app does not draw the widget (the analyst opened another
page): back on the page, the widget starts again from its default. A What-if trial left for Billing cycles and came
back to the default name and range, beside its changes and results: Run scenario would have billed another range,
unsaid. A page names the values it keeps: `restore(keys)` before its widgets are drawn puts back what
`remember(keys)` copied after they were drawn the last time. Only widgets drawn without a default argument (their
value comes from the session state), which Streamlit lets a page set; a widget that needs a default gets it through
`initial`, never through the session state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import streamlit as st

_PREFIX = "kept:"


def restore(keys: Iterable[str]) -> None:
    """Each widget value `remember` kept, put back where Streamlit forgot it."""
    for key in keys:
        if key not in st.session_state and _PREFIX + key in st.session_state:
            st.session_state[key] = st.session_state[_PREFIX + key]


def remember(keys: Iterable[str]) -> None:
    """Each widget's value now, kept under a key of the page's own, which Streamlit never forgets."""
    for key in keys:
        if key in st.session_state:
            st.session_state[_PREFIX + key] = st.session_state[key]


def initial(key: str, value: Any, argument: str = "value") -> dict:
    """A kept widget's default, as its keyword `argument` (value, index, default): given only while the session state
    holds no value of the widget (none kept, none chosen), since Streamlit refuses a default beside a value set through
    the session state. A default set in the session state instead would outlive a run that does not draw the widget
    and then stand in the way of the value `restore` puts back."""
    return {} if key in st.session_state else {argument: value}

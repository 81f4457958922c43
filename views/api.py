"""API: the tokens of the HTTP API and the MCP server (spec section 9). A new token is shown ONCE, right after
it is created (only its hash is stored); a token is revoked behind a confirmation and stops working at once."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.service import access
from engine.service.limits import MAX_TOKEN_NAME
from views import _reads
from views._actions import action_popover, close_popover, flash, run_action, show_flash
from views._database import db_path, session
from views._format import fmt_date

CREATE_WHERE, REVOKE_WHERE, REVOKE_POPOVER = "api_create", "api_revoke", "api_revoke_popover"
NEW_TOKEN = "api_new_token"  # (name, business, token) of the token just created: shown once, then forgotten


def _create(business: str | None, name_key: str) -> None:
    name = (st.session_state.get(name_key) or "").strip()
    if not business or not name:
        flash("error", "Create token: choose the business and give the token a name first.", CREATE_WHERE)
        return

    def work() -> str:
        created = access.create(session(), business, name)
        st.session_state[NEW_TOKEN] = (name, business, created["token"])
        st.session_state[name_key] = ""
        return f"Created token {name!r} for business {business}."

    run_action(("create_token", business, name), "Create token", work, where=CREATE_WHERE)


def _revoke(name: str) -> None:
    def work() -> str:
        access.revoke(session(), name)
        return f"Revoked token {name!r}: requests with it are refused from now on."

    run_action(
        ("revoke_token", name), "Revoke", work, where=REVOKE_WHERE, refused_where=REVOKE_POPOVER, close=REVOKE_POPOVER
    )


st.title("API")
st.caption(
    "Tokens for the HTTP API (`billsim serve`) and the MCP tools at `/mcp`. Each token belongs to one "
    "business; a request sends `Authorization: Bearer <token>` and `x-business-id: <business>`."
)
show_flash()
db = db_path()

tokens = _reads.api_tokens(db)
st.subheader("Tokens")
if tokens:
    frame = pd.DataFrame(
        [
            {
                "Name": t["name"],
                "Business": t["business_id"],
                "Created": fmt_date(t["created_at"]),
                "Revoked": fmt_date(t["revoked_at"]) if t["revoked_at"] else "",
                "Status": "revoked" if t["revoked_at"] else "active",
            }
            for t in tokens
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
else:
    st.info("No token yet: create one below to call the API or connect an MCP client.")

left, right = st.columns(2)
with left, st.container(border=True):
    st.markdown("**Create a token**")
    businesses = _reads.businesses(db)
    business = st.selectbox("Business", businesses, key="api_token_business", index=0 if businesses else None)
    st.text_input(
        "Name",
        key="api_token_name",
        placeholder="e.g. finance-bot",
        help="unique; to find and revoke it",
        max_chars=MAX_TOKEN_NAME,  # the application layer's bound: the box stops there
    )
    st.button(
        "Create token",
        key="api_create_token",
        type="primary",
        on_click=_create,
        args=(business, "api_token_name"),
        disabled=not businesses,
    )
    show_flash(CREATE_WHERE)
    if new := st.session_state.pop(NEW_TOKEN, None):  # shown on this run only
        name, business, token = new
        st.warning(
            f"Copy the token **{name}** ({business}) now: it is shown only once. Billsim keeps only its hash, "
            "so it cannot be shown again; if it is lost, revoke it and create another.",
            icon=":material/key:",
        )
        st.code(token, language=None)

with right, st.container(border=True):
    st.markdown("**Revoke a token**")
    active = [t["name"] for t in tokens if not t["revoked_at"]]
    chosen = st.selectbox("Token", active, key="api_revoke_choice", index=None, placeholder="choose a token")
    if chosen is None:
        close_popover(REVOKE_POPOVER)
    with action_popover("Revoke…", REVOKE_POPOVER, disabled=chosen is None):
        if chosen is not None:
            st.write(f"Revoke **{chosen}**? Every request with it is refused (401) from now on; this cannot be undone.")
            st.button("Revoke token", key="api_revoke_confirm", type="primary", on_click=_revoke, args=(chosen,))
            show_flash(REVOKE_POPOVER)  # a refusal, inside the popover that stays open
    show_flash(REVOKE_WHERE)

with st.expander("Connect an MCP client"):
    st.markdown(
        "Over stdio (the client starts the server), e.g. in the client's JSON configuration:\n"
        '```json\n{"mcpServers": {"billsim": {"command": "billsim", "args": '
        '["--db", "' + db + '", "mcp", "--business", "YOUR_BUSINESS"]}}}\n```\n'
        "Over HTTP: `billsim serve`, then the URL `http://127.0.0.1:8000/mcp` with the headers "
        "`Authorization: Bearer <token>` and `x-business-id: <business>`."
    )

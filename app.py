"""Billsim workbench entry: routes to the pages and sets session defaults; nothing else."""
import streamlit as st

st.set_page_config(page_title="Billsim workbench", layout="wide")
home = st.Page("pages/home.py", title="Home", default=True)
st.navigation([home]).run()

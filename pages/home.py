import streamlit as st

st.title("Billsim workbench")
st.write("Billing simulation: preview invoices, run bill runs, export CSV.")

"""The workbench pages (Streamlit): adapters of the application layer, engine.service."""

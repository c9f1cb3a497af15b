"""DS-AG-021 Question 10: the chest X-ray classifier as a Streamlit app (your solution).

    XRAY_MODEL=path/to/model.keras streamlit run xray_app.py

Load the model from the path in XRAY_MODEL (else model.keras next to this
file) with keras.saving.load_model; show an error (st.error) and stop when it
is missing. Offer st.file_uploader for PNG/JPEG; for an upload show the
pneumonia probability (st.metric), the decision (st.error for Pneumonia,
st.success for Normal) and the image with its Grad-CAM overlay (st.image).
An upload that is not an image must give an st.error, not a crash.
"""

import streamlit as st

st.title("Chest X-ray classifier")
st.error("xray_app.py is not implemented yet")

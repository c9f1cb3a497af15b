"""DS-AG-021 Question 10: the chest X-ray classifier as a Streamlit app.

    XRAY_MODEL=path/to/model.keras streamlit run xray_app.py

The model is a trained `.keras` file (xray.py trains one); its path comes from
the XRAY_MODEL environment variable, else model.keras next to this file.
Upload a PNG or JPEG: the app shows the pneumonia probability, the decision
and a Grad-CAM overlay of the regions that drove it. This is a teaching tool,
not a medical device, and the page says so.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import streamlit as st
import xray

THRESHOLD = 0.5


@st.cache_resource
def load_model(path: str) -> keras.Model:
    return keras.saving.load_model(path, safe_mode=True)


def model_path() -> Path:
    return Path(os.environ.get("XRAY_MODEL") or Path(__file__).with_name("model.keras"))


st.title("Chest X-ray classifier")
st.caption("Normal vs pneumonia, with Grad-CAM. For teaching only; not for diagnosis.")

path = model_path()
if not path.exists():
    st.error(f"No model at {path}. Train one with `python xray.py TRAIN_DIR VAL_DIR {path.name}` "
             "or set XRAY_MODEL to a .keras file.")
    st.stop()
model = load_model(str(path))

uploaded = st.file_uploader("Upload a chest X-ray (PNG or JPEG)", type=["png", "jpg", "jpeg"])
if uploaded is not None:
    try:
        # The model decides the size, so any trained model file works.
        height, width = model.input_shape[1:3]
        image = xray.load_image(uploaded.getvalue(), (height or xray.IMAGE_SIZE[0],
                                                      width or xray.IMAGE_SIZE[1]))
    except Exception:  # a corrupt or non-image upload must not crash the page
        st.error(f"Could not read {uploaded.name} as a PNG or JPEG image.")
        st.stop()
    probability = xray.predict(model, image)
    label = xray.CLASS_NAMES[int(probability >= THRESHOLD)]
    st.metric("Pneumonia probability", f"{probability:.3f}")
    if label == "Pneumonia":
        st.error(f"Prediction: {label}")
    else:
        st.success(f"Prediction: {label}")
    cam = xray.grad_cam(model, image, class_index=int(probability >= THRESHOLD))
    left, right = st.columns(2)
    left.image((image * 255).astype("uint8"), caption="Uploaded image")
    right.image(xray.overlay(image, cam), caption=f"Grad-CAM: evidence for {label}")

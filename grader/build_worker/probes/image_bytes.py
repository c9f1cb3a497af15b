"""image_bytes, build half: each decoded image as an array, ``image_<call>`` (the
parent half, grader/parent/probes/image_bytes.py, compares them with Pillow's)."""

from __future__ import annotations

from typing import Any

from grader.build_worker.probes import as_array


def capture(returned: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    return {f"image_{index}": as_array(value, "the image")
            for index, value in enumerate(returned)}

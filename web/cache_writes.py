"""Gradio's saved pictures written whole: a download never reads one half written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from gradio import processing_utils as saving


def atomic_gradio_cache_writes() -> None:
    """Gradio (6.31) saves a returned picture (the boxed photo, each box's mask) at a path named by its
    content with a plain `write_bytes`: the file is truncated, then written. Searches with the same
    answer (a crowd trying an example photo) rewrite it while other clients download it, and a download
    that opens it truncated ends with the connection closed mid-body, "peer closed connection without
    sending complete message body (received 0 bytes, expected N)" (issue 25). Written under a temporary
    name and renamed into place, the path always holds the whole file (the same bytes, by its name)."""

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = saving.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / saving.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        path = (folder / f"{name}.{format}").resolve()
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as part:
            part.write(data)
        os.chmod(part.name, 0o644)
        os.replace(part.name, path)
        return str(path)

    saving.save_pil_to_cache = save_pil_to_cache  # also what save_img_array_to_cache calls

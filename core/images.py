"""Turn whatever a caller hands us (path, bytes, PIL image, numpy array) into an RGB PIL image.

Every failure is raised as `ImageError`, with a message a person can act on.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import LookalikeError
from .settings import SearchSettings

ImageInput = str | Path | bytes | bytearray | Image.Image | np.ndarray
WHITE = (255, 255, 255)  # the catalog photos' background where an index measured none


class ImageError(LookalikeError):
    """The input is not an image we can search with (missing, not an image, corrupt, empty, too large)."""


def load_image(source: ImageInput, max_pixels: int = SearchSettings.max_pixels) -> Image.Image:
    """Decode `source` into an upright 8-bit RGB image, or raise `ImageError`."""
    if isinstance(source, np.ndarray):
        image = _from_array(source)
    elif isinstance(source, Image.Image):
        image = source
    elif isinstance(source, (bytes, bytearray)):
        image = _open(io.BytesIO(source), len(source))
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"No image file at {path}.")
        image = _open(path, path.stat().st_size)
    else:
        raise ImageError(f"Expected a path, bytes, PIL image or numpy array, got {type(source).__name__}.")

    _check_size(image.width, image.height, max_pixels)
    try:
        image.load()
        return _to_rgb(ImageOps.exif_transpose(image))
    # A damaged file can make any of PIL's decoders and metadata parsers fail, each in its own way
    # (OSError, ValueError, struct.error, SyntaxError, ...): every one of them means the same here.
    except Exception as exc:
        raise ImageError(f"The image is corrupt or truncated and cannot be decoded ({_plain(exc)}).") from exc


def detail(image: Image.Image) -> float:
    """How much there is to see in `image`: the largest step between neighbouring pixels of a 64x64
    greyscale copy (0 to 255). A plain colour, a smooth gradient or a bare wall steps by 2 at most; a
    small object on a plain wall by tens; every region of the benchmarks' room photos by 42 or more."""
    grey = np.asarray(image.convert("L").resize((64, 64), Image.Resampling.BILINEAR), np.float64)
    return float(max(np.abs(np.diff(grey, axis=0)).max(), np.abs(np.diff(grey, axis=1)).max()))


def _open(fp, size: int) -> Image.Image:
    """The image in `fp` (`size` bytes), its header read but its pixels not yet decoded."""
    if size == 0:
        raise ImageError("The file is empty (0 bytes): it holds no photo.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(fp)
    # ultralytics patches Image.open to fetch a HEIF plugin on unidentified files; with auto-install
    # off (models.runtime) that surfaces as ImportError, which means the same thing here.
    except (UnidentifiedImageError, ImportError) as exc:
        raise ImageError(
            "The file is not an image format we can read (use JPEG, PNG, WebP, BMP, GIF or TIFF)."
        ) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("The image has too many pixels to process safely.") from exc
    except Exception as exc:  # a recognised format with a malformed header (PPM's maxval, PNG's text chunks, ...)
        raise ImageError(f"The image is malformed and cannot be read ({_plain(exc)}).") from exc


def _plain(exc: Exception) -> str:
    """The gist of a decoder's complaint, as plain text: it may quote the file's own bytes."""
    text = re.sub(r"[^A-Za-z0-9 .,:;=()/+-]+", " ", str(exc).splitlines()[0] if str(exc) else "")
    text = re.sub(r"\s+", " ", text).strip()[:100]
    return text or type(exc).__name__


def _check_size(width: int, height: int, max_pixels: int) -> None:
    # Checked from the header, before decoding, so a decompression bomb never gets decoded.
    if width <= 0 or height <= 0:
        raise ImageError(f"The image has no pixels ({width}x{height}).")
    if width * height > max_pixels:
        raise ImageError(
            f"The image is {width}x{height} = {width * height / 1e6:.0f} megapixels; "
            f"the limit is {max_pixels / 1e6:.0f}. Resize it and try again."
        )


def _from_array(array: np.ndarray) -> Image.Image:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"Expected an HxW, HxWx3 or HxWx4 array, got shape {array.shape}.")
    if array.size == 0:
        raise ImageError(f"The image has no pixels (shape {array.shape}).")
    if array.dtype == np.uint16:
        array = (array // 257).astype(np.uint8)
    elif np.issubdtype(array.dtype, np.floating):
        array = (np.clip(np.nan_to_num(array), 0.0, 1.0) * 255).round().astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ImageError(f"Expected a uint8, uint16 or float array in [0, 1], got {array.dtype}.")
    return Image.fromarray(np.ascontiguousarray(array))


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        # 16-bit greyscale: PIL's own convert() clips at 255 and turns most photos white.
        array = np.asarray(image, dtype=np.float64) / 257.0
        return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "L").convert("RGB")
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        scale = 255.0 if array.max(initial=0.0) <= 1.0 else 1.0
        return Image.fromarray(np.clip(array * scale, 0, 255).astype(np.uint8), "L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Catalog photos sit on white; transparent areas become white, not black.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")

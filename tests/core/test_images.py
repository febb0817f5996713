"""Every kind of photo a caller may hand in: good ones decode to upright RGB, bad ones raise ImageError."""

import contextlib
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.images import ImageError, load_image


def _png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but holds no pixel data (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b"")


def _png_with_chunk(kind: bytes, data: bytes) -> bytes:
    """A valid 8x8 PNG with one more chunk before its pixels."""
    png = _png_bytes(Image.new("RGB", (8, 8)))
    return png[:33] + _chunk(kind, data) + png[33:]


def _jpeg(app1: bytes = b"", size=(16, 16)) -> bytes:
    """A JPEG with `app1` as its EXIF segment's payload, when given."""
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buf, format="JPEG")
    data = buf.getvalue()
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:] if app1 else data


@pytest.mark.parametrize(
    "mode, make",
    [
        ("L", lambda: Image.new("L", (8, 6), 128)),
        ("1", lambda: Image.new("1", (8, 6), 1)),
        ("P", lambda: Image.new("RGB", (8, 6), (200, 10, 10)).convert("P")),
        ("RGBA", lambda: Image.new("RGBA", (8, 6), (200, 10, 10, 255))),
        ("LA", lambda: Image.new("LA", (8, 6), (90, 255))),
        ("CMYK", lambda: Image.new("CMYK", (8, 6), (0, 255, 255, 0))),
        ("I;16", lambda: Image.fromarray(np.full((6, 8), 65535, dtype=np.uint16))),
        ("I", lambda: Image.new("I", (8, 6), 30000)),
        ("F", lambda: Image.new("F", (8, 6), 0.5)),
    ],
)
def test_every_mode_becomes_rgb(mode, make):
    image = make()
    assert image.mode == mode
    out = load_image(image)
    assert out.mode == "RGB" and out.size == (8, 6)


@pytest.mark.parametrize(
    "image, expected",
    [
        # 16-bit white must stay white, not clip or wrap.
        (Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16)), (255, 255, 255)),
        (Image.fromarray(np.full((4, 4), 32896, dtype=np.uint16)), (128, 128, 128)),
        # Transparent pixels become white (catalog background), not black.
        (Image.new("RGBA", (4, 4), (255, 0, 0, 0)), (255, 255, 255)),
        (Image.new("RGBA", (4, 4), (255, 0, 0, 255)), (255, 0, 0)),
        (Image.new("CMYK", (4, 4), (0, 0, 0, 0)), (255, 255, 255)),
    ],
)
def test_pixel_values_survive_conversion(image, expected):
    assert load_image(image).getpixel((1, 1)) == expected


@pytest.mark.parametrize(
    "array, size",
    [
        (np.zeros((6, 8, 3), np.uint8), (8, 6)),
        (np.zeros((6, 8, 4), np.uint8), (8, 6)),
        (np.zeros((6, 8), np.uint8), (8, 6)),
        (np.zeros((6, 8, 1), np.uint8), (8, 6)),
        (np.zeros((6, 8, 3), np.uint16), (8, 6)),
        (np.ones((6, 8, 3), np.float32), (8, 6)),
    ],
)
def test_numpy_arrays(array, size):
    out = load_image(array)
    assert out.mode == "RGB" and out.size == size


def test_paths_bytes_and_exif_rotation(tmp_path):
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert load_image(path).size == (20, 40)
    assert load_image(str(path)).size == (20, 40)
    assert load_image(path.read_bytes()).size == (20, 40)


@pytest.mark.parametrize(
    "source, message",
    [
        (b"", "empty"),
        # Recognised formats whose headers are malformed, each failing inside PIL in its own way.
        (b"P6\n4 4\n0\n" + bytes(48), "malformed.*maxval"),
        (b"P5\n4 x4\n255\n" + bytes(16), "malformed"),
        (b"P6\n" + b"9" * 200 + b" 4\n255\n", "malformed.*too long"),
        (b"PF\n4 4\nnan\n" + bytes(192), "not an image"),
        (_png_with_chunk(b"zTXt", b"k\x00\x00" + zlib.compress(b"a" * 3_000_000)), "malformed.*too large"),
        (_png_with_chunk(b"iTXt", b"k\x00\x01\x00\x00\x00" + zlib.compress(b"a" * 3_000_000)), "malformed.*too large"),
        (_png_with_chunk(b"IHDR", b"\x00" * 3), "malformed|corrupt"),
        (b"this is a text file, not a photo", "not an image"),
        (_png_bytes(Image.new("RGB", (64, 64)))[:60], "corrupt or truncated"),
        (_png_header_only(100_000, 100_000), "too many pixels"),
        (_png_header_only(0, 10), "not an image"),  # PIL itself refuses a zero-width header
        (np.zeros((0, 10, 3), np.uint8), "no pixels"),
        (np.zeros((4, 4, 2), np.uint8), "shape"),
        (np.zeros((4, 4, 3), np.int64), "dtype|uint8"),
        ("/no/such/photo.jpg", "No image file"),
        (12345, "Expected a path"),
    ],
)
def test_bad_inputs_raise_one_clear_error(source, message):
    with pytest.raises(ImageError, match=f"(?i){message}"):
        load_image(source)


def _exif(orientation: int, make: str) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = orientation, make
    return exif


@pytest.mark.parametrize(
    "exif",
    [
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00\x12\x01",  # the first IFD cut short
        b"Exif\x00\x00XX*\x00\x08\x00\x00\x00",  # not a TIFF header
        b"Exif\x00\x00MM\x00*\xff\xff\xff\xf0",  # the IFD offset points past the end
    ],
)
def test_broken_exif_never_escapes_as_another_error(exif):
    # PIL warns or raises on such EXIF, depending on where it is broken; the photo stays usable or
    # is refused with our message, which quotes none of the file's bytes.
    try:
        assert load_image(_jpeg(exif)).size == (16, 16)
    except ImageError as exc:
        assert not set("'\"<>&") & set(str(exc))


def test_an_empty_file_is_called_empty(tmp_path):
    (tmp_path / "photo.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(tmp_path / "photo.jpg")


@pytest.mark.parametrize(
    "fmt, options",
    [
        ("JPEG", {"exif": _exif(orientation=6, make="camera")}),
        ("PNG", {}),
        ("GIF", {}),
        ("WEBP", {}),
        ("BMP", {}),
        ("TIFF", {}),
        ("PPM", {}),
    ],
)
def test_mutated_files_decode_or_raise_image_error(fmt, options):
    """Random byte flips, cuts and insertions in each format: a photo or an ImageError, nothing else."""
    rng = np.random.default_rng(12)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(buf, format=fmt, **options)
    original = buf.getvalue()
    for _ in range(60):
        data = bytearray(original)
        for _ in range(rng.integers(1, 6)):
            at = int(rng.integers(0, len(data)))
            action = rng.integers(0, 3)
            if action == 0:
                data[at] = int(rng.integers(0, 256))
            elif action == 1:
                del data[at : at + int(rng.integers(1, 64))]
            else:
                data[at:at] = rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8).tobytes()
        with contextlib.suppress(ImageError):
            assert load_image(bytes(data)).mode == "RGB"


def test_truncated_jpeg_file(tmp_path):
    path = tmp_path / "cut.jpg"
    buf = io.BytesIO()
    Image.effect_noise((256, 256), 64).convert("RGB").save(buf, format="JPEG")
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(path)


def test_pixel_limit_is_checked_before_decoding():
    with pytest.raises(ImageError, match="limit is"):
        load_image(_png_bytes(Image.new("RGB", (100, 100))), max_pixels=5_000)
    assert load_image(_png_bytes(Image.new("RGB", (100, 100))), max_pixels=10_000).size == (100, 100)

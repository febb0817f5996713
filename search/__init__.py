"""Query-time Lookalike: photo -> detected objects -> crop embeddings -> catalog matches."""

from .detector import Detection, Detector, DetectorError, load_detector
from .encoder import Encoder, EncoderError, load_encoder
from .engine import Engine, ObjectResult, SearchResult, load_engine
from .images import ImageError, load_image
from .settings import Settings

__all__ = [
    "Detection", "Detector", "DetectorError", "load_detector", "Encoder", "EncoderError", "load_encoder",
    "Engine", "ObjectResult", "SearchResult", "load_engine", "ImageError", "load_image", "Settings",
]

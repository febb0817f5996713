"""The models: an ultralytics YOLO detector and a `transformers` image encoder. Imports only `core`."""

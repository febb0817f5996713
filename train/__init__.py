"""Training on the catalog: synthetic scenes, detector fine-tuning."""

"""Training on the catalog: synthetic scenes, fine-tuning a detector, adapting the encoder to the catalog."""

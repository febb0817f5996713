"""Query time: photo -> detected objects -> crop embeddings -> catalog matches. The layer above `index`."""

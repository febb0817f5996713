"""The bottom layer: result types, settings and the image loader. Imports nothing of the project's."""

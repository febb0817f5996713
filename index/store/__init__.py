"""The index on disk: versions and checksums, the manifest, the product table, kinds, text, a stored adaptation."""

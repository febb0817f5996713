"""Reading a shop's catalog: its sources and columns, feeds, parquet tables and joins, images, the cap."""

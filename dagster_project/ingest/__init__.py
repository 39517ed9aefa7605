"""Ingestion: landing files -> canonical Parquet in the lake, with rejects and a manifest."""

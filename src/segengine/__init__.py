"""segengine: local-first customer segmentation on a Parquet lake, in sync with Snowflake."""

__version__ = "0.1.0"

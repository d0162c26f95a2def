"""The run layer: SQL models on DuckDB, the pipeline, the quality gate and publishing.

Only this layer (and the CLI) writes run outputs; it imports models and lake below it.
"""

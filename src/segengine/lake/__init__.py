"""The lake layer: data-directory layout, input schemas, ingest, validation, synthetic data.

Imports only config and errors; every layer above reads the lake through it.
"""

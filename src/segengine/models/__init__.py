"""Pure model stages (frames in, frames out): segments, RFM, clusters, churn, ML segments.

No I/O here; imports only the lake layer, config and errors.
"""

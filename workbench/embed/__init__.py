"""Embeddings: the weight-free feature frontend, the on-disk cache and batch extraction.

The OpenL3 port (issue 4) will join here as a second backbone with the same ``embed`` shape.
"""

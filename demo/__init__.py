"""The demo registry: a believable Suzhou Industrial Park scenario driven through every domain."""

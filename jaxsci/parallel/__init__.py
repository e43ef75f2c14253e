"""Sharding helpers: device meshes and batch axes split over them."""

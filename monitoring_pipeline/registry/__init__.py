"""Registries: model checkpoints tied to the data slices they were trained on."""

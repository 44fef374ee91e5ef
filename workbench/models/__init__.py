"""Trainable model definitions shared by training, evaluation and export (import torch lazily)."""

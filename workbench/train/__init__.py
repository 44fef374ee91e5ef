"""Training: datasets with grouped splits (:mod:`~workbench.train.datasets`), triplet fine-tuning of
the embedding head (:mod:`~workbench.train.triplet`), the section classifier and training jobs.

Importing this package does no work; import the submodule you need.
"""

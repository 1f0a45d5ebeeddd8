"""Text model training: synthetic data, training loop, evaluation, notebook."""

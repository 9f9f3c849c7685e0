"""Training (PyTorch): datasets, models, losses and the training loop."""

"""The PyTorch mirror of the project's trainer, by concern (scripts/train_torch.py is its command line):
safetensors_io → plan → model → exact → train → runs → cli, each importing the ones before it."""

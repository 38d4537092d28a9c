"""The torch-free core every layer stands on: the model's contract, errors, files, the MNIST reader,
manifests, the format table and its pass rules, and tables. Imports nothing above it."""

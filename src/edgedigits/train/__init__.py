"""Training (torch): the tutorial's model, recipes, the loop, DDP, distillation, checkpoints, and the
non-digit material outlier exposure learns from. Imports core and the runtime's normalization only."""

"""Export (torch): checkpoint -> every artifact of the format table, staged, hashed, with a manifest and
the eager model's reference logits."""

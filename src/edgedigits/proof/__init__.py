"""Proof (torch-free): verify and bench every artifact against the stored reference logits, on the
device itself; where torch is installed, the eager model too."""

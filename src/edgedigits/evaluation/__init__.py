"""Evaluation tooling the product never imports: synthetic pages and scenes with ground truth, a pen
model for held-out hands, a loopback MJPEG camera, and the HTML report."""

"""Training: optimizer, losses, the jitted steps, checkpointing, metrics and the SFT loop."""

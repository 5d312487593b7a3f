"""The MovingColor network: layers, named configurations, checkpoints."""

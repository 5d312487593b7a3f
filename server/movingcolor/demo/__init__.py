"""The built-in example: a procedurally generated shot, fused and shown side by side."""

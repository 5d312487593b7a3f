"""Self-supervised training: random grades and mattes over unlabeled footage."""

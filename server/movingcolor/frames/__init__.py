"""Frames: image sequences and videos in, EXR/PNG/TIFF out (OpenImageIO, PyAV)."""

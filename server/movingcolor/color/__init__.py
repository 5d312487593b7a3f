"""Colour: OpenColorIO configs, colourspaces, grades and the working encodings."""

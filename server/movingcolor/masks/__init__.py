"""Masks: mattes in any form, and the edge band around their boundary."""

"""Synthetic shots whose right answer is known: the demo, the ground-truth benchmark set
and training all draw from here."""

from .scene import ProceduralShot, SceneSpec, generate_scene, generate_shot

__all__ = ["ProceduralShot", "SceneSpec", "generate_scene", "generate_shot"]

"""Presentation: console rendering and text reports of published results."""

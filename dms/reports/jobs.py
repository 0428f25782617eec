"""Periodic jobs of the reports area (each module registers its own on import)."""

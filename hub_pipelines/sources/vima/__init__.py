"""vima package."""

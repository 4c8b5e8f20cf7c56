"""payshack package."""

"""Local stand-ins for the Vima API and the PayShack dashboard, with a seeded scenario."""

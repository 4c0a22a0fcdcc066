"""Test-wide settings: every test gets a state folder and cache of its own making."""

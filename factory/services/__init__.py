"""Writes of the factory: creating, changing and dropping storages."""

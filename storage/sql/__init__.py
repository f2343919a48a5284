"""The records SQL: statements compiled once per storage version and kept per process."""

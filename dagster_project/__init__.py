"""Data warehouse for China's 12345 government service hotlines."""

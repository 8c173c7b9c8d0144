"""Experiments: configuration dataclass in, results dict out (pure, deterministic per seed)."""

"""Placeholder replaced below."""
class VisualDiscrimination:  # noqa: D101
    pass

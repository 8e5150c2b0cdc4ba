"""Model files, one per baseline (or family of variants). Each registers itself with
``@register_baseline``; ``baselines.registry.load_all`` imports them all."""

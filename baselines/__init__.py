"""Baselines: the registry, configs, torch data loaders, models and the train/evaluate runner."""

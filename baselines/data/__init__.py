"""Torch data loading shared by every baseline: skeleton and video datasets and transforms."""

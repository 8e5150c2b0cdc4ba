"""The embedded synthetic AMGE benchmark: procedurally generated exercise clips with labels.

Modules: ``body`` (3-D stick body, COCO-17, camera), ``motions`` (postures and motion
primitives), ``activities`` (the activity catalogue and the anatomical rule table), ``clip``
(one clip: motion, filming, pose-estimator noise), ``render`` (RGB frames, H.264 mp4),
``generate`` (split design and writer), ``preview`` (contact sheets). docs/synth.md describes
the design. Rendering needs Pillow and PyAV; labels and skeletons need only numpy.
"""

from .generate import (
                       DATASET,
                       SynthSettings,
                       SynthSummary,
                       generate_benchmark,
                       is_generated,
                       make_settings,
                       read_manifest,
                       split_plan,
)
from .preview import write_preview

__all__ = ["DATASET", "SynthSettings", "SynthSummary", "generate_benchmark", "is_generated",
           "make_settings", "read_manifest", "split_plan", "write_preview"]

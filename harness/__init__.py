"""The harness defines and scores the benchmark: dataset cards, the label store, prediction
files, the metric, confidence intervals and result records. It never imports torch."""

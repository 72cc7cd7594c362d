"""Stage 2, eval: protocols turn ground truth into prompts, a model answers, metrics score each
instance; the evaluator writes result rows per dataset shard."""

"""robustseg's benchmark: sources, builder, dataset card, evaluator, metrics, statistics, leaderboards, CLI."""

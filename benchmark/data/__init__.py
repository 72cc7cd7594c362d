"""Stage 1, data: sources read published datasets into Samples; the builder writes them, clear and
degraded, as parquet shards with a dataset card and a checksummed manifest."""

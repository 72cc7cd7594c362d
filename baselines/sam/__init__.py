"""SAM-family adapters: one module per family, sharing the official SAM modules, preprocessing and
postprocessing. Importing a family module registers its models and imports torch and the official
``segment_anything.modeling`` (its classes subclass them at module level); ``baselines.zoo`` imports
these modules only when both are installed."""

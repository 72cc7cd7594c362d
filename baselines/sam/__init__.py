"""SAM-family adapters: one module per family, sharing the official SAM modules, preprocessing and
postprocessing. Importing a family module registers its models; torch is needed only to build one."""

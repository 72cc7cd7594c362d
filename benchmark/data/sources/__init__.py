from .base import Source, SourceInfo, UnknownSourceError, create_source, describe_sources, list_sources, \
    register_source, source_info

__all__ = ["Source", "SourceInfo", "UnknownSourceError", "create_source", "describe_sources", "list_sources",
           "register_source", "source_info"]

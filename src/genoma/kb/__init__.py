"""Knowledge: every source versioned, checksummed, licensed, behind one interface."""

from genoma.kb.base import KnowledgeSource, Release, all_sources, get_source, register

__all__ = ["KnowledgeSource", "Release", "all_sources", "get_source", "register"]

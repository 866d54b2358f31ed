"""The one filter vocabulary: filter names and parsers, line/road matching, event semantics."""

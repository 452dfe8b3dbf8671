"""Export documents that need a library of their own: PDF, its signature, Word, OpenDocument."""

"""Importers: pure readers, one module per source format, that turn files into TranscriptRecords."""

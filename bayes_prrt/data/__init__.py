"""The curated evidence base and users' CSVs: reading, validation, datasets and the audit."""

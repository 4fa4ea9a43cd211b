"""The benchmark scripts (run one as ``python bench/<name>.py``) and what they share."""

"""Unit tests. A package, so a unit test may share its file name with an integration test
(test_registry_import.py in both: pytest then names this one unit.test_registry_import)."""

"""Importable trainer functions that ``tests/ops/test_trainer.py`` runs in a subprocess."""

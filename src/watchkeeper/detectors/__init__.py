"""Streaming concept-drift detectors for a model's error stream: River 0.26-exact, and fast.

Every detector has ``update(x) -> self``, ``update_many(values) -> drift indices`` (the same
results as an ``update`` loop, in compiled code: numba, loaded on first use), read-only
``drift_detected`` / ``warning_detected``, ``reset()`` and ``to_dict``/``from_dict``.
:func:`evaluate` scores alarms against known change points (CD-MOA's MTD, MDR, MTFA, MTR).

Binary detectors (``DDM``, ``EDDM``, ``HDDM_A``, ``HDDM_W``) take 1 for an error and 0 for a
correct prediction; the others (``ADWIN``, ``PageHinkley``, ``CUSUM``, ``KSWIN``) take any
finite float, e.g. absolute errors of a regression model.
"""

from __future__ import annotations

from watchkeeper.detectors._base import Detector
from watchkeeper.detectors.adwin import ADWIN
from watchkeeper.detectors.cusum import CUSUM
from watchkeeper.detectors.ddm import DDM
from watchkeeper.detectors.eddm import EDDM
from watchkeeper.detectors.evaluate import DetectionEvaluation, evaluate
from watchkeeper.detectors.hddm_a import HDDM_A
from watchkeeper.detectors.hddm_w import HDDM_W
from watchkeeper.detectors.kswin import KSWIN
from watchkeeper.detectors.page_hinkley import PageHinkley

__all__ = [
    "ADWIN",
    "CUSUM",
    "DDM",
    "EDDM",
    "HDDM_A",
    "HDDM_W",
    "KSWIN",
    "DetectionEvaluation",
    "Detector",
    "PageHinkley",
    "evaluate",
]

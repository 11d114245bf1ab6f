"""Options of :meth:`Baseline.fit`: what to precompute, validated once.

Binning (for PSI, KL, Jensen-Shannon and Hellinger on numeric columns) is reference-based:
``bins`` bins between the reference minimum and maximum, by reference quantiles
(``binning="quantile"``, default) or of equal width (``"uniform"``), plus one overflow bin on
each side for values outside the reference range.

Multivariate models: ``pca_reconstruction`` is fitted by default (a PCA on a seeded subsample
of at most ``pca_max_rows`` reference rows, explaining ``pca_n_components`` of the variance);
``domain_classifier`` and ``manifold`` are opt-in (``multivariate=("pca_reconstruction",
"domain_classifier", "manifold")``) as they cost seconds per comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from watchkeeper._validate import check_choice, check_int, check_number
from watchkeeper.errors import InvalidParameterError, UnknownMethodError

__all__ = ["MULTIVARIATE_METHODS", "FitOptions"]

MULTIVARIATE_METHODS = ("pca_reconstruction", "domain_classifier", "manifold")
_OWNER = "Baseline.fit"


@dataclass(frozen=True, slots=True)
class FitOptions:
    """Validated options of :meth:`Baseline.fit` (see the module docstring)."""

    bins: int = 10
    binning: str = "quantile"
    multivariate: tuple[str, ...] = ("pca_reconstruction",)
    pca_max_rows: int = 100_000
    pca_n_components: float = 0.9
    domain_max_rows: int = 20_000
    manifold_max_rows: int = 2_000
    reference_chunks: int = 10
    segment_min_rows: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        check_int(_OWNER, "bins", self.bins, low=1)
        check_choice(_OWNER, "binning", self.binning, ("quantile", "uniform"))
        multi = self.multivariate
        if isinstance(multi, str):
            multi = (multi,)
        if not isinstance(multi, tuple | list):
            raise InvalidParameterError(
                f"The 'multivariate' parameter of {_OWNER} must be a sequence of method names. "
                f"Got {multi!r} instead."
            )
        for name in multi:
            if name not in MULTIVARIATE_METHODS:
                raise UnknownMethodError(
                    f"Unknown multivariate method {name!r}; valid methods are "
                    f"{', '.join(MULTIVARIATE_METHODS)}."
                )
        object.__setattr__(self, "multivariate", tuple(dict.fromkeys(multi)))
        check_int(_OWNER, "pca_max_rows", self.pca_max_rows, low=100)
        if isinstance(self.pca_n_components, int) and not isinstance(self.pca_n_components, bool):
            check_int(_OWNER, "pca_n_components", self.pca_n_components, low=1)
        else:
            check_number(
                _OWNER,
                "pca_n_components",
                self.pca_n_components,
                low=0,
                high=1,
                low_open=True,
                high_open=True,
            )
        check_int(_OWNER, "domain_max_rows", self.domain_max_rows, low=100)
        check_int(_OWNER, "manifold_max_rows", self.manifold_max_rows, low=50)
        check_int(_OWNER, "reference_chunks", self.reference_chunks, low=0)
        check_int(_OWNER, "segment_min_rows", self.segment_min_rows, low=1)
        check_int(_OWNER, "seed", self.seed, low=0)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The option names this class takes."""
        return tuple(f.name for f in fields(cls))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe copy."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["multivariate"] = list(self.multivariate)
        return out

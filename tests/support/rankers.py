"""A small estimator for the tests of the ranking train step: it records how `fit` was called,
standing in for a ranker whose library is not installed (XGBoost's XGBRanker takes `qid=`)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class QidRanker(RegressorMixin, BaseEstimator):
    """Takes a query id per row, as XGBRanker's `fit(X, y, qid=...)` does."""

    def fit(self, X, y, qid=None):
        self.qid_ = None if qid is None else np.asarray(qid)
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.asarray(X, dtype="float64")[:, 0]


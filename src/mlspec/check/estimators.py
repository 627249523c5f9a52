"""Which classes `training.estimator` may name: an estimator class of the libraries the training
pipeline trains with (scikit-learn, LightGBM, XGBoost), never any callable.

The pipeline's train step imports the named module and calls the named attribute with the
spec's params. A free dotted path made that any callable a pull request likes:
`subprocess.Popen` with `{args: ..., shell: true}` ran a command on the training machine
(issue 23). So the path is checked here, at validate (and so in every compile), and again at
run time by the train step (mlspec.runtime.kfp_components.train_model), which also checks that
the object it finds is a class derived from scikit-learn's BaseEstimator before calling it.

Here the check is static, so that validating a spec imports no scikit-learn (a second or more
on the CLI's start-up path): the module must be one of ESTIMATOR_MODULES exactly (the public
modules that hold estimators; not `sklearn.utils`, `sklearn.datasets` or a parent package such
as `sklearn`), and the name must have the shape of that library's estimator classes (CapWords
for scikit-learn, which names its functions in lower case; `LGBM...` and `XGB...` for the two
boosting libraries, whose other CapWords names, `Booster` and `DMatrix`, are not estimators).
"""

from __future__ import annotations

import re

# module -> the shape of an estimator class's name in it. Kept equal to the list in
# mlspec.runtime.kfp_components.train_model (tests/unit/check/test_estimators.py).
ESTIMATOR_MODULES: dict[str, str] = {
    **dict.fromkeys((
        "sklearn.discriminant_analysis", "sklearn.dummy", "sklearn.ensemble", "sklearn.gaussian_process",
        "sklearn.isotonic", "sklearn.kernel_ridge", "sklearn.linear_model", "sklearn.naive_bayes",
        "sklearn.neighbors", "sklearn.neural_network", "sklearn.svm", "sklearn.tree",
    ), r"[A-Z][A-Za-z0-9]*"),
    "lightgbm": r"LGBM[A-Za-z0-9]+",
    "lightgbm.sklearn": r"LGBM[A-Za-z0-9]+",
    "xgboost": r"XGB[A-Za-z0-9]+",
    "xgboost.sklearn": r"XGB[A-Za-z0-9]+",
}
EXAMPLES = "`sklearn.ensemble.RandomForestClassifier`, `lightgbm.LGBMClassifier` or `xgboost.XGBRegressor`"


def estimator_problem(path: str) -> str:
    """Why `path` is not an estimator class the training pipeline may call, or ""."""
    module, _, name = path.rpartition(".")
    shape = ESTIMATOR_MODULES.get(module)
    if shape is None:
        return (f"`{path}` is not an estimator class the training pipeline may call: `{module}` is not a module"
                f" of estimators of scikit-learn, LightGBM or XGBoost")
    if not re.fullmatch(shape, name):
        return (f"`{path}` is not an estimator class the training pipeline may call: `{name}` is not the name of"
                f" an estimator class of `{module}`")
    return ""

# A notebook in one file: ORR by tumour grade, from the embedded data to a saved, reloaded fit.
# Run it with `python docs/examples/orr_by_grade.py`; the test suite runs it too
# (tests/test_api.py), so every line here works as written.
import tempfile
from pathlib import Path

import bayes_prrt

data = bayes_prrt.load_dataset()                                   # the curated evidence base
fit = bayes_prrt.pool(data, "ORR", method="bayes", by="grade")     # hierarchical model with grade
print(fit)                                                         # metafor-style text block
table = fit.summary()                                              # one row per quantity (a DataFrame)
print(table.loc[["pooled ORR", "tau", "grade: G1-2", "grade: G2-3"], ["median", "ci_low", "ci_high", "rhat"]])
answer = fit.prob("G1-2 > G2-3")                                   # from the stored draws, with its MCSE
print(f"P(ORR in G1-2 > ORR in G2-3) = {answer['probability']:.2f} (MCSE {answer['mcse']:.3f})")
path = Path(tempfile.mkdtemp()) / "orr_by_grade.nc"
fit.to_netcdf(path)                                                # draws and everything to rebuild the fit
again = bayes_prrt.load_fit(path)                                  # the same object back
assert again.prob("G1-2 > G2-3") == answer
figure = fit.plot_forest()                                         # a matplotlib Figure
figure.savefig(path.with_suffix(".png"))
print(f"saved {path} and {path.with_suffix('.png')}")
